"""The chip's configuration port: its registers (tile keys, input maps, phases, the output map) and the commands
it forwards to the cores and the routers (see :class:`~spikeforge.hdl.chip.chip.ChipUnit`).

One command at a time: a WRITE takes effect, a READ is answered on ``cfg_rsp`` before the next command is taken.
A command that names no tile, entry or unit, a core address wider than the core's, or a map entry giving an
index beyond its tile's axons (the outputs, for the output map) is refused: counted in ``bad_config``, a READ
of it answered with zeros, a WRITE ignored.
"""

from amaranth.hdl import Cat, Const, Mux, Signal
from amaranth.lib import enum

from ..cfg import CfgOp
from .controller import PHASE_BITS


__all__ = ["ChipUnit", "add_config_port"]


class ChipUnit(enum.Enum, shape=3):
    """What a configuration command addresses: a core's field (``field``, ``axon``, ``neuron``, ``data``), an
    input-map entry (``index``, ``entry``), a tile's key or phase (``data``), the number of phases (``data``), a
    routing-table entry (``node``, ``index``, ``route``), an output-map entry (``index``, ``entry``) or, in the
    tile of a learning core, whether an event of axon ``axon`` waits for the core's next tick (``data``, 0 or 1:
    :class:`~spikeforge.hdl.chip.tile.PendingAxons`). ``node`` selects the tile or router."""
    CORE = 0
    MAP = 1
    KEY = 2
    PHASE = 3
    PHASES = 4
    ROUTE = 5
    OUTPUT = 6
    PENDING = 7


def _registers(chip):
    p = chip.params
    nodes = sorted(chip.tiles)
    regs = {
        "key": {n: Signal(p.key_bits, name=f"key{n}") for n in nodes},
        "phase": {n: Signal(PHASE_BITS, name=f"phase{n}") for n in nodes},
        "map": {n: [Signal(chip.entry_layout, name=f"map{n}_{i}") for i in range(p.map_size)] for n in nodes},
        "output": [Signal(chip.entry_layout, name=f"output{i}") for i in range(len(chip.host.output_map))],
        "phases": Signal(PHASE_BITS + 1),
    }
    return regs


def _selected(cases, default):
    """The value of the first case whose condition holds (cases: [(condition, value)])."""
    value = default
    for condition, case in reversed(cases):
        value = Mux(condition, case, value)
    return value


def add_config_port(m, chip):
    """Add the configuration port of ``chip`` (a :class:`~spikeforge.hdl.chip.chip.Chip`) to module ``m``;
    returns its registers: ``key``, ``phase`` and ``map`` (node -> register), ``output`` (list), ``phases``."""
    p = chip.params
    regs = _registers(chip)
    cmd = Signal(chip.cfg_layout)
    rsp = Signal(chip.cfg_rsp_layout)
    m.d.comb += chip.cfg_rsp.payload.eq(rsp)
    tiles = chip.tiles
    has_tile = Cat(cmd.node == n for n in tiles).any()
    def fits(value, bits):
        return (value >= -(1 << (bits - 1))) & (value < (1 << (bits - 1)))

    # A core's addresses and data must fit its own widths (no silent truncation to another neuron or value).
    core_fits = Cat((cmd.node == n) & (cmd.axon >> t.lif.axon_bits == 0) & (cmd.neuron >> t.lif.neuron_bits == 0)
                    & fits(cmd.data, t.lif.data_bits) for n, t in tiles.items()).any()
    learning = {n: t for n, t in tiles.items() if t.pending_axons}
    has_pending = Cat((cmd.node == n) & (cmd.axon < t.core.params.axons) & (cmd.data >= 0) & (cmd.data <= 1)
                      for n, t in learning.items()).any()
    # A map entry must give only indices its tile's core (the outputs) has: no packet goes to a wrong axon.
    write = cmd.op == CfgOp.WRITE
    entry_end = cmd.entry.base + cmd.entry.count
    map_fits = ~write | ~cmd.entry.enable | Cat((cmd.node == n) & (entry_end <= t.core.params.axons)
                                                 for n, t in tiles.items()).any()
    output_fits = ~write | ~cmd.entry.enable | (entry_end <= p.output_count)
    unit = cmd.unit
    good = _selected([
        (unit == ChipUnit.CORE, has_tile & core_fits),
        (unit == ChipUnit.MAP, has_tile & (cmd.index < p.map_size) & map_fits),
        (unit == ChipUnit.KEY, has_tile & (cmd.data >= 0) & (cmd.data < (1 << p.key_bits))),
        (unit == ChipUnit.PHASE, has_tile & (cmd.data >= 0) & (cmd.data < (1 << PHASE_BITS))),
        (unit == ChipUnit.PHASES, (cmd.data >= 0) & (cmd.data <= (1 << PHASE_BITS))),
        (unit == ChipUnit.ROUTE, (cmd.node < p.nodes) & (cmd.index < p.table_size)),
        (unit == ChipUnit.OUTPUT, (cmd.index < len(regs["output"])) & output_fits),
        (unit == ChipUnit.PENDING, has_pending),
    ], Const(0))

    for n, tile in tiles.items():
        m.d.comb += [getattr(tile.cfg.payload, name).eq(getattr(cmd, name)) for name, _ in tile.lif.cfg_layout]
    for tile in learning.values():
        m.d.comb += [tile.pending_cfg.axon.eq(cmd.axon), tile.pending_cfg.value.eq(cmd.data[0])]
    route_cmd = chip.mesh.cfg.payload
    m.d.comb += [route_cmd.op.eq(cmd.op), route_cmd.node.eq(cmd.node), route_cmd.index.eq(cmd.index)]
    m.d.comb += [getattr(route_cmd, name).eq(getattr(cmd.route, name)) for name, _ in cmd.route.shape()]

    with m.FSM(name="cfg"):
        with m.State("IDLE"):
            m.d.comb += chip.cfg.ready.eq(1)
            with m.If(chip.cfg.valid):
                m.d.sync += [cmd.eq(chip.cfg.payload), rsp.eq(0)]
                m.next = "DISPATCH"
        with m.State("DISPATCH"):
            with m.If(~good):
                with m.If(chip.bad_config != 0xFFFF):
                    m.d.sync += chip.bad_config.eq(chip.bad_config + 1)
                m.next = "RSP"
                with m.If(write):
                    m.next = "IDLE"
            with m.Elif(unit == ChipUnit.CORE):
                for n, tile in tiles.items():
                    m.d.comb += tile.cfg.valid.eq(cmd.node == n)
                ready = Cat(tile.cfg.ready & (cmd.node == n) for n, tile in tiles.items()).any()
                with m.If(ready):
                    m.next = "IDLE"
                    with m.If(~write):
                        m.next = "CORE-RSP"
            with m.Elif(unit == ChipUnit.ROUTE):
                m.d.comb += chip.mesh.cfg.valid.eq(1)
                with m.If(chip.mesh.cfg.ready):
                    m.next = "IDLE"
                    with m.If(~write):
                        m.next = "ROUTE-RSP"
            with m.Elif(unit == ChipUnit.PENDING):
                for n, tile in learning.items():
                    m.d.comb += tile.pending_cfg.write.eq(write & (cmd.node == n))
                m.next = "IDLE"
                with m.If(~write):
                    m.next = "PENDING-RSP"
            with m.Else():
                _registers_access(m, regs, cmd, rsp, write)
                m.next = "IDLE"
                with m.If(~write):
                    m.next = "RSP"
        with m.State("CORE-RSP"):
            for n, tile in tiles.items():
                m.d.comb += tile.cfg_rsp.ready.eq(cmd.node == n)
                with m.If((cmd.node == n) & tile.cfg_rsp.valid):
                    m.d.sync += rsp.data.eq(tile.cfg_rsp.payload.data)
                    m.next = "RSP"
        with m.State("PENDING-RSP"):
            for n, tile in learning.items():
                with m.If(cmd.node == n):
                    m.d.sync += rsp.data.eq(tile.pending)
            m.next = "RSP"
        with m.State("ROUTE-RSP"):
            m.d.comb += chip.mesh.cfg_rsp.ready.eq(1)
            with m.If(chip.mesh.cfg_rsp.valid):
                m.d.sync += rsp.route.eq(chip.mesh.cfg_rsp.payload)
                m.next = "RSP"
        with m.State("RSP"):
            m.d.comb += chip.cfg_rsp.valid.eq(1)
            with m.If(chip.cfg_rsp.ready):
                m.next = "IDLE"
    return regs


def _registers_access(m, regs, cmd, rsp, write):
    """WRITE or READ the register a MAP, KEY, PHASE, PHASES or OUTPUT command names."""
    with m.Switch(cmd.unit):
        with m.Case(ChipUnit.MAP):
            for n, entries in regs["map"].items():
                for i, entry in enumerate(entries):
                    with m.If((cmd.node == n) & (cmd.index == i)):
                        with m.If(write):
                            m.d.sync += entry.eq(cmd.entry)
                        m.d.sync += rsp.entry.eq(entry)
        with m.Case(ChipUnit.OUTPUT):
            for i, entry in enumerate(regs["output"]):
                with m.If(cmd.index == i):
                    with m.If(write):
                        m.d.sync += entry.eq(cmd.entry)
                    m.d.sync += rsp.entry.eq(entry)
        for unit, name in ((ChipUnit.KEY, "key"), (ChipUnit.PHASE, "phase")):
            with m.Case(unit):
                for n, register in regs[name].items():
                    with m.If(cmd.node == n):
                        with m.If(write):
                            m.d.sync += register.eq(cmd.data)
                        m.d.sync += rsp.data.eq(register)
        with m.Case(ChipUnit.PHASES):
            with m.If(write):
                m.d.sync += regs["phases"].eq(cmd.data)
            m.d.sync += rsp.data.eq(regs["phases"])
