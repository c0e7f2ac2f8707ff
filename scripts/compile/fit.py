"""Whether a compiled chip fits a board, estimated before any place and route.

Block RAMs are counted as the build flow places them, by the family's RAM shapes:

- every core's weight memory (``lanes x weight_bits`` wide, ``axons x neurons / lanes`` deep; on the iCE40 one
  above 64 kbit goes to SPRAM, as boards/build.py asks);
- on the iCE40, its state memory (one record per lane group) and every FIFO of 16 entries or more (the tile's
  event FIFO, the core's spike FIFO, the host link's receive FIFO); the ECP5 puts those in LUT RAM;
- on both, one per input buffer of every router (one per linked port and one for the local port).

These counts equal the builds of the digits chip on both boards and of examples/chip_2x2.toml on the ECP5.

Logic is estimated as the host link and controller, plus per tile a fixed part (router, input map, event FIFO,
the core's control) and a part per lane and membrane bit (the lane's adders, decay, compare and reset), with
constants fitted to chip builds (iCE40: 1000 + 1150 per tile + 33 per lane-bit, within 5% of four builds of
two tiles; ECP5: 300 + 1400 + 30, 9% to 23% over). A chip fits when its block RAMs do and its logic estimate
leaves :data:`ROUTING_MARGIN` of the device to place and route; ``spikeforge build`` gives the truth.
"""

from __future__ import annotations

import dataclasses
import math


__all__ = ["BoardFit", "fit", "core_blocks", "BOARD_LIMITS"]


@dataclasses.dataclass(frozen=True)
class _Family:
    logic: int                  # LUT4 (ECP5) or logic cells (iCE40)
    bram: int                   # block RAMs
    bram_modes: tuple           # (width, depth) of one block RAM
    spram: int = 0              # iCE40UP5K 256-kbit single-port RAMs
    spram_above_bits: int = 0   # a host-loaded weight memory larger than this goes to SPRAM
    fifo_bram_depth: int = 0    # a FIFO of at least this many entries takes block RAM (0: never, LUT RAM)
    router_buffer_bram: int = 0  # block RAMs of a router's input buffer (one per linked port and the local one)
    state_in_bram: bool = True  # the cores' state memories take block RAM (ECP5: LUT RAM)
    # Logic estimate: link (host link and controller), per tile, per lane per membrane bit.
    link: int = 0
    tile: int = 0
    lane_bit: int = 0


_FAMILIES = {
    "icebreaker": _Family(logic=5280, bram=30, bram_modes=((16, 256), (8, 512), (4, 1024), (2, 2048)), spram=4,
                          spram_above_bits=64 * 1024, fifo_bram_depth=16, router_buffer_bram=1, link=1000, tile=1150, lane_bit=33),
    "ulx3s-85f": _Family(logic=83640, bram=208, bram_modes=((36, 512), (18, 1024), (9, 2048), (4, 4096),
                                                             (2, 8192), (1, 16384)), router_buffer_bram=1, state_in_bram=False, link=300, tile=1400,
                         lane_bit=30),
}

#: The share of a device's logic a chip may take by the estimate: nextpnr needs room to route.
ROUTING_MARGIN = 0.10
_HOST_RX_ENTRIES = 31          # the host link's receive FIFO (boards/host_link.py)

#: The largest core the compiler uses by default on each board: (neurons, axons).
BOARD_LIMITS = {"icebreaker": (64, 128), "ulx3s-85f": (256, 256)}


@dataclasses.dataclass(frozen=True)
class BoardFit:
    board: str
    logic: int
    logic_available: int
    bram: int
    bram_available: int
    spram: int
    spram_available: int

    @property
    def fits(self):
        return (self.logic <= (1 - ROUTING_MARGIN) * self.logic_available and self.bram <= self.bram_available
                and self.spram <= self.spram_available)


def _blocks(family, width, depth):
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in family.bram_modes)


def _fifo_blocks(family, width, entries):
    return _blocks(family, width, entries) if family.fifo_bram_depth and entries >= family.fifo_bram_depth else 0


def _core_memories(family, params, stdp=None):
    """(block RAMs, SPRAMs) of one core of :class:`LifParams` ``params`` and its tile: the state and weight
    memories, the tile's event FIFO (an entry per axon) and the core's spike FIFO (an entry per lane group)."""
    p = params
    weight_bits = p.axons * p.neurons * p.weight_bits
    record = sum(width for width, _ in p.neuron_fields(stdp).values())
    fifos = _fifo_blocks(family, p.axon_bits, p.axons - 1) + _fifo_blocks(family, p.group_bits + p.lanes, p.groups)
    blocks = (_blocks(family, p.lanes * record, p.groups) if family.state_in_bram else 0) + fifos
    if family.spram and weight_bits > family.spram_above_bits:
        return blocks, math.ceil(weight_bits / (256 * 1024))
    return blocks + _blocks(family, p.lanes * p.weight_bits, p.axons * p.groups), 0


def core_blocks(board, params, stdp=None):
    """The block RAMs (and SPRAMs) one core and its tile take on ``board``."""
    return _core_memories(_FAMILIES[board], params, stdp)


def fit(chip, board):
    """The :class:`BoardFit` of ``chip`` (a :class:`~spikeforge.hdl.chip.params.ChipParams`) on ``board``."""
    family = _FAMILIES[board]
    bram, spram = _fifo_blocks(family, 8, _HOST_RX_ENTRIES), 0
    mesh = chip.mesh
    bram += family.router_buffer_bram * sum(bin(mesh.links(node)).count("1") for node in range(chip.nodes))
    logic = family.link
    for core in chip.cores:
        b, s = _core_memories(family, core.params, core.stdp)
        bram, spram = bram + b, spram + s
        logic += family.tile + family.lane_bit * core.params.lanes * core.params.state_bits
    return BoardFit(board=board, logic=logic, logic_available=family.logic, bram=bram, bram_available=family.bram,
                    spram=spram, spram_available=family.spram)
