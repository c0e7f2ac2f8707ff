"""cocotb bench of the router and the mesh: loads the routing tables through the configuration port (checking
every answer), injects packets with random idle cycles and random backpressure at every sink, drains the
network, and compares the deliveries and the counters with the golden model.

Runs inside the simulator; started by :func:`spikeforge.sim.aer.rtl.run_rtl`, which passes the run
configuration: ``kind`` (``"router"`` or ``"mesh"``), ``params`` (the ``to_dict()`` of the parameters),
``packets`` (``[t, src, dest, payload, tag]`` rows, ``dest`` a key or ``[x, y]``), ``idle``, ``stall``, ``seed``,
``settle``, ``check`` and ``output`` (where the deliveries are written as JSON). Cycle 0 is the first cycle after
the tables are loaded.
"""

import json
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import reset, start_clock
from spikeforge.sim.harness.layout import Layout
from spikeforge.sim.harness.scoreboard import Mismatch
from spikeforge.sim.harness.streams import StreamSink, StreamSource

from .driver import NetworkDriver, Stuck, config_commands
from .model import AerModel, Packet


def params_from(config):
    """The parameter object of a run configuration."""
    cls = MeshParams if config["kind"] == "mesh" else RouterParams
    return cls.create(**config["params"])


def packets_from(rows, routing):
    """Packets from the JSON rows of a run configuration."""
    return [Packet(t=t, src=src, dest=tuple(dest) if routing == "xy" else dest, payload=payload, tag=tag)
            for t, src, dest, payload, tag in rows]


async def _configure(dut, manifest, params, rng):
    """Load and read back the tables; check every answer and the refused-command counter."""
    cfg = manifest.memory_map["cfg"]
    cfg_layout = Layout.from_description("cfg", cfg["command"])
    rsp_layout = Layout.from_description("cfg_rsp", cfg["response"])
    source = StreamSource(dut, "cfg", layout=cfg_layout, clock=dut.clk, rng=rng, idle=0.2)
    sink = StreamSink(dut, "cfg_rsp", layout=rsp_layout, clock=dut.clk, rng=rng, stall=0.3)
    sink.start()
    commands, refused = config_commands(params)
    for fields, answer in commands:
        await source.send([fields])
        if answer is not None:
            got = await sink.recv()
            if got != answer:
                raise Mismatch(f"configuration: {fields['op']} of entry {fields['index']}"
                               + (f" of node {fields['node']}" if "node" in fields else "")
                               + f" answered {got} in the RTL, {answer} in the model")
    sink.stop()
    await RisingEdge(dut.clk)
    if params.counter_bits and int(dut.bad_config.value) != min(refused, params.counter_max):
        raise Mismatch(f"configuration: bad_config = {int(dut.bad_config.value)} in the RTL, {refused} in the model")


@cocotb.test()
async def traffic(dut):
    """Inject the configured packets, drain, compare with the model."""
    config = run_config.load()
    manifest = run_config.load_manifest(config)
    params = params_from(config)
    mesh = isinstance(params, MeshParams)
    packets = packets_from(config["packets"], params.routing)
    rng = random.Random(config["seed"])
    layout = Layout.from_description("packet", manifest.derived["packet"])
    model = AerModel(params)

    n = params.nodes if mesh else params.ports
    in_names = [f"inject__{i}" if mesh else f"inputs__{i}" for i in range(n)]
    out_names = [f"deliver__{i}" if mesh else f"outputs__{i}" for i in range(n)]
    in_valid = [getattr(dut, f"{name}__valid") for name in in_names]
    in_payload = [getattr(dut, f"{name}__payload") for name in in_names]
    in_ready = [getattr(dut, f"{name}__ready") for name in in_names]
    out_valid = [getattr(dut, f"{name}__valid") for name in out_names]
    out_payload = [getattr(dut, f"{name}__payload") for name in out_names]
    out_ready = [getattr(dut, f"{name}__ready") for name in out_names]
    for handle in in_valid + in_payload + out_ready:
        handle.value = 0

    start_clock(dut.clk)
    await reset(dut.clk, dut.rst)
    if params.uses_table:
        await _configure(dut, manifest, params, rng)

    expected = model.run(packets)
    want = sum(len(rows) for rows in expected.delivered.values())
    driver = NetworkDriver(packets, layout=layout, routing=params.routing, inputs=n, outputs=n,
                           idle=config["idle"], stall=config["stall"], seed=config["seed"] + 1)
    edge, settled = RisingEdge(dut.clk), ReadOnly()
    cycle = 0
    stuck = None
    while True:
        try:
            if driver.finished(cycle, want, settle=config["settle"], quiet=config["quiet"]):
                break
        except Stuck as error:
            stuck = error
            break
        bits, readies = driver.drive(cycle)
        for valid, payload, value in zip(in_valid, in_payload, bits):
            valid.value = value is not None
            if value is not None:
                payload.value = value
        for handle, ready in zip(out_ready, readies):
            handle.value = ready
        await settled
        accepted = [bool(handle.value) if value is not None else False for handle, value in zip(in_ready, bits)]
        beats = [int(payload.value) if ready and valid.value else None
                 for valid, payload, ready in zip(out_valid, out_payload, readies)]
        await edge
        driver.sample(cycle, accepted, beats)
        cycle += 1
    for handle in in_valid + out_ready:
        handle.value = 0

    def counters(name):
        if not params.counter_bits:           # no counters: the model's counts saturate at 0
            return [[0] * params.ports for _ in range(params.nodes if mesh else 1)]
        if mesh:
            return [[int(getattr(dut, f"{name}__{node}__{port}").value) for port in range(params.ports)]
                    for node in range(params.nodes)]
        return [[int(getattr(dut, f"{name}__{port}").value) for port in range(params.ports)]]

    forwarded, dropped = counters("forwarded"), counters("dropped")
    result = {
        "cycles": cycle,
        "delivered": [[d.t, d.node, d.src, d.dest, d.payload, d.tag]
                      for rows in driver.delivered.values() for d in rows],
        "injected": [[cycle, p.t, p.src, p.dest, p.payload, p.tag] for cycle, p in driver.injected],
        "forwarded": forwarded,
        "dropped": dropped,
        "stuck": str(stuck) if stuck else None,
    }
    with open(config["output"], "w") as file:
        json.dump(result, file)

    if config["check"]:
        mismatch = model.compare(expected.delivered, driver.delivered)
        if mismatch is not None:
            raise Mismatch(f"{stuck}; {mismatch}" if stuck else mismatch)
        for name, got, want_counts in (("forwarded", forwarded, expected.forwarded),
                                       ("dropped", dropped, expected.dropped)):
            for router, (got_row, want_row) in enumerate(zip(got, want_counts.tolist())):
                for port, (a, b) in enumerate(zip(got_row, want_row)):
                    if a != b:
                        where = f"router {router} " if mesh else ""
                        raise Mismatch(f"counters: {where}{name}[{port}] = {a} in the RTL, {b} in the model")
    if stuck:
        raise stuck
