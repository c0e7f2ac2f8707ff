"""A router's or a mesh's run on the batch harness, in one Verilator run (:mod:`spikeforge.sim.harness.batch`).

What the cocotb bench (:mod:`spikeforge.sim.aer.bench`) does without idle cycles or backpressure: the routing
tables loaded through the configuration port (every answer checked) in table mode, then every packet offered
on its source no earlier than its cycle ``t`` (cycle 0 being the first cycle after the tables are loaded, as the
bench counts), the network drained until the golden model's deliveries arrived and nothing moved for
``settle`` cycles; the counters read at the end.
"""

from __future__ import annotations

import time

import numpy as np

from spikeforge.hdl.aer.params import MeshParams
from spikeforge.sim.harness.batch import After, BatchModel, BatchStuck, Sequence, Stimulus
from spikeforge.sim.harness.batch_build import compile_model
from spikeforge.sim.harness.batch_words import pack, unpack

from .driver import config_commands, delivery_from_fields, packet_fields
from .model import AerModel


__all__ = ["compile_network", "run_batch"]


def compile_network(verilog, manifest, *, build_dir):
    """The batch harness of an exported router or mesh (cached)."""
    return BatchModel(compile_model(verilog, manifest, build_dir=build_dir))


def _configure(sequence, params):
    """Queue the table session; returns its commands and answers."""
    commands, refused = config_commands(params)
    for fields, answer in commands:
        sequence.then("cfg", [fields], until=None if answer is None else ("cfg_rsp", 1))
    return commands, refused


def _answers_mismatch(result, commands, refused, counter_bits):
    """The first wrong READ answer or refused-command count (``bad_config``, absent with 0 counter bits)."""
    layout = result.layouts["cfg_rsp"]
    reads = [(fields, answer) for fields, answer in commands if answer is not None]
    got = {name: unpack(layout, result.beats("cfg_rsp").words, name) for name in layout.fields}
    for i, (fields, answer) in enumerate(reads):
        for name, want in answer.items():
            if int(got[name][i]) != want:
                where = f" of node {fields['node']}" if "node" in fields else ""
                return (f"configuration: READ of entry {fields['index']}{where} answered {name} = "
                        f"{int(got[name][i])} in the RTL, {want} in the model")
    if counter_bits and result.outputs["bad_config"] != min(refused, (1 << counter_bits) - 1):
        return f"configuration: bad_config = {result.outputs['bad_config']} in the RTL, {refused} in the model"
    return None


def run_batch(model, params, packets, *, settle, quiet, check):
    """Run ``packets`` on ``model``; returns the fields of :class:`~spikeforge.sim.aer.rtl.RtlResult`."""
    mesh = isinstance(params, MeshParams)
    n = params.nodes if mesh else params.ports
    inputs = [f"inject__{i}" if mesh else f"inputs__{i}" for i in range(n)]
    outputs = [f"deliver__{i}" if mesh else f"outputs__{i}" for i in range(n)]
    stimulus = Stimulus(model)
    commands, refused = [], 0
    origin_guard = After(inputs[0], 0)
    if params.uses_table:
        sequence = Sequence(stimulus)
        commands, refused = _configure(sequence, params)
        # The bench starts counting one cycle after the last answer came.
        origin_guard = After("cfg_rsp", sequence.expected("cfg_rsp"), 1)
    by_source = [sorted((p for p in packets if p.src == i), key=lambda p: p.t) for i in range(n)]
    layout = model.compiled.manifest.stream_layout(inputs[0])
    for name, queue in zip(inputs, by_source):
        fields = [packet_fields(packet, params.routing) for packet in queue]
        words = pack(layout, {field: [f.get(field, 0) for f in fields] for field in layout.fields})
        for index, packet in enumerate(queue):
            stimulus.send(name, words[index:index + 1],
                          after=[After(origin_guard.channel, origin_guard.count, origin_guard.delay + packet.t)])
    reference = AerModel(params)
    expected = reference.run(packets)
    finish = {name: len(expected.delivered[node]) for node, name in enumerate(outputs)}
    start = time.monotonic()
    message = ""
    try:
        result = model.run(stimulus, finish=finish, drain=settle, patience=quiet)
    except BatchStuck as stuck:
        result, message = stuck.result, str(stuck)
    seconds = time.monotonic() - start
    origin = 0
    if params.uses_table:
        answered = result.beats("cfg_rsp").cycles
        origin = int(answered[-1]) + 1 + origin_guard.delay if len(answered) else 0
        message = message or (_answers_mismatch(result, commands, refused, params.counter_bits) or "")
    delivered = {node: [] for node in range(n)}
    for node, name in enumerate(outputs):
        beats = result.beats(name)
        fields = {field: unpack(layout, beats.words, field) for field in layout.fields}
        for i, cycle in enumerate(beats.cycles):
            delivered[node].append(delivery_from_fields({field: int(values[i]) for field, values in fields.items()},
                                                        t=int(cycle) - origin, node=node, routing=params.routing))
    # In acceptance order, inputs in order within a cycle, as the bench records them.
    injected = sorted(((int(cycle) - origin, packet) for name, queue in zip(inputs, by_source)
                       for cycle, packet in zip(result.beats(name).cycles, queue)), key=lambda row: row[0])

    def counters(name):
        if not params.counter_bits:           # no counters: the model's counts saturate at 0
            return [[0] * params.ports for _ in range(params.nodes if mesh else 1)]
        if mesh:
            return [[result.outputs[f"{name}__{node}__{port}"] for port in range(params.ports)]
                    for node in range(params.nodes)]
        return [[result.outputs[f"{name}__{port}"] for port in range(params.ports)]]

    forwarded, dropped = np.array(counters("forwarded")), np.array(counters("dropped"))
    if check and not message:
        message = reference.compare(expected.delivered, delivered) or ""
        for name, got, want in (("forwarded", forwarded, expected.forwarded), ("dropped", dropped, expected.dropped)):
            if not message and not np.array_equal(got, want):
                router, port = (int(x) for x in np.argwhere(got != want)[0])
                where = f"router {router} " if mesh else ""
                message = (f"counters: {where}{name}[{port}] = {got[router, port]} in the RTL, "
                           f"{want[router, port]} in the model")
    # The bench ends ``settle`` cycles after the cycle of the last handshake; the harness one cycle later (after
    # ``settle`` quiet cycles).
    return dict(ok=not message, message=message, delivered=delivered, injected=injected, forwarded=forwarded,
                dropped=dropped, cycles=result.cycles - 1 - origin, seconds=seconds)
