"""The UART and the host bridge in Amaranth's simulator: host frames in, device frames out, checked against the
protocol in docs/host_protocol.md (version 2: sequence numbers, CRC, acknowledgements) and the LIF golden model."""

import gc
import random

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.sim import Simulator

from spikeforge.hdl.host_bridge import HostBridge, LifHostBridge
from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.manifest import lif_core_manifest
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.manifest import manifest_digest
from spikeforge.hdl.uart import UartRx, UartTx, uart_divisor
from spikeforge.scripts.host.frames import Frame, FrameReader, encode
from spikeforge.sim.lif_core.model import LifModel


# --- frames of the LIF binding, written out from docs/host_protocol.md ---------------------------------------

INFO, STATUS, ACK, NAK, EVENT, TICK, CFG = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
SPIKE, CFG_DATA, DONE = 0x04, 0x05, 0x06
READ, WRITE = 0, 1
WEIGHT, V, ACC = 0, 1, 3


def le(value, nbytes):
    return (value & ((1 << 8 * nbytes) - 1)).to_bytes(nbytes, "little")


class Frames:
    """Payloads of one core's frames: the layouts' bits, little-endian in whole bytes."""

    def __init__(self, core):
        self.axon_bits, self.neuron_bits, self.data_bits = core.axon_bits, core.neuron_bits, core.data_bits

    def event(self, seq, axon):
        return encode(seq, EVENT, le(axon, (self.axon_bits + 7) // 8))

    def cfg(self, seq, op, field, axon, neuron, value=0):
        # op (1 bit), field (4 bits), axon, neuron, data, LSB first (the core's cfg_layout).
        bits = op | field << 1 | axon << 5 | neuron << (5 + self.axon_bits) | \
            (value & ((1 << self.data_bits) - 1)) << (5 + self.axon_bits + self.neuron_bits)
        return encode(seq, CFG, le(bits, (5 + self.axon_bits + self.neuron_bits + self.data_bits + 7) // 8))

    def spike(self, seq, neuron):
        return Frame(seq, SPIKE, le(neuron, (self.neuron_bits + 7) // 8))

    def cfg_data(self, seq, value):
        return Frame(seq, CFG_DATA, le(value, (self.data_bits + 7) // 8))

    @staticmethod
    def status(expected, timestep=0, bad_events=0, bad_config=0, bad_frames=0, link_errors=0):
        return Frame(expected, STATUS, le(timestep, 4) + le(bad_events, 2) + le(bad_config, 2) +
                     le(bad_frames, 2) + le(link_errors, 2))


def ack(seq):
    return Frame(seq, ACK, b"")


def nak(seq):
    return Frame(seq, NAK, b"")


def without_acks(frames, last):
    """The frames other than ACKs, after checking that the ACKs count up to ``last``: an ACK acknowledges every
    command up to its number, so the device may send only the newest of several."""
    numbers = [frame.seq for frame in frames if frame.code == ACK]
    assert numbers == sorted(set(numbers)) and numbers[-1] == last
    return [frame for frame in frames if frame.code != ACK]


# --- simulation ----------------------------------------------------------------------------------------------

class Bench(wiring.Component):
    def __init__(self, params):
        self.core = LifCore(params)
        self.host = LifHostBridge(self.core)
        super().__init__({"rx": wiring.In(stream.Signature(8)), "tx": wiring.Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.submodules.host = self.host
        wiring.connect(m, self.host.core, self.core)
        wiring.connect(m, wiring.flipped(self.rx), self.host.rx)
        wiring.connect(m, self.host.tx, wiring.flipped(self.tx))
        return m


def run(dut, host_bytes, *, until_idle=300, stall=0.0, gaps=None, seed=0, acknowledge=True, deadline=None):
    """Drive ``host_bytes`` into ``dut.rx`` (items that are ints are idle cycles), collect the frames of
    ``dut.tx`` with a random ``stall`` fraction of cycles not ready, and stop ``until_idle`` cycles after the last
    byte in or out. With ``acknowledge``, every reply frame is acknowledged (between the host's frames). With a
    ``deadline`` (cycles), a device that has not read every host byte by then fails the test."""
    rng = random.Random(seed)
    reader = FrameReader()
    frames, acks = [], []
    state = {"last": 0, "cycle": 0, "sent": False}

    async def send(ctx, item):
        for byte in item:
            ctx.set(dut.rx.valid, 1)
            ctx.set(dut.rx.payload, byte)
            await ctx.tick().until(dut.rx.ready)
            ctx.set(dut.rx.valid, 0)
            state["last"] = state["cycle"]
            if gaps and rng.randrange(2):
                await ctx.tick().repeat(rng.randrange(1, gaps + 1))

    async def idle(ctx, cycles):
        for _ in range(cycles):
            while acks:
                await send(ctx, acks.pop(0))
            await ctx.tick()

    async def host(ctx):
        for item in host_bytes:
            if isinstance(item, int):
                await idle(ctx, item)
            else:
                await send(ctx, item)
        state["sent"] = True
        while state["cycle"] - state["last"] < until_idle:
            await idle(ctx, 1)

    async def device(ctx):
        async for _, _, valid, ready, payload in ctx.tick().sample(dut.tx.valid, dut.tx.ready, dut.tx.payload):
            state["cycle"] += 1
            if valid and ready:
                for frame in reader.feed([payload]):
                    frames.append(frame)
                    if acknowledge and frame.code >= SPIKE:
                        acks.append(encode(frame.seq, ACK))
                state["last"] = state["cycle"]
            ctx.set(dut.tx.ready, rng.random() >= stall)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_testbench(device, background=True)
    if deadline is None:
        sim.run()
    else:
        sim.run_until(deadline * 1e-6)
        assert state["sent"], f"the device stopped reading the link; it had sent {frames}"
    assert reader.bad == 0
    return frames


@pytest.fixture
def params():
    return LifParams.create(neurons=8, axons=5, lanes=2, weight_bits=6, threshold=20)


def test_info(params):
    dut = Bench(params)
    digest = manifest_digest(lif_core_manifest(dut.core))
    # A frame on the link: flag, sequence number 9 (ignored), code INFO, no payload, CRC.
    [info] = run(dut, [bytes([0x7E, 0x09, INFO, 0xA7, 0x97])])
    # The expected command number 0; "L", version 2, digest, axon_bits 3, neuron_bits 3, data_bits 16, lanes 2,
    # weight_bits 6, neurons - 1, axons - 1.
    assert info == Frame(0, INFO, bytes([0x4C, 2]) + digest + bytes([3, 3, 16, 2, 6, 7, 0, 4, 0]))


def test_config_write_read(params):
    dut = Bench(params)
    f = Frames(dut.core)
    host = [f.cfg(0, WRITE, WEIGHT, 4, 7, -3), f.cfg(1, WRITE, V, 0, 5, -1000), f.cfg(2, READ, WEIGHT, 4, 7),
            100, f.cfg(3, READ, V, 0, 5), 100, f.cfg(4, READ, WEIGHT, 4, 6)]
    assert run(dut, host) == [ack(0), ack(1), ack(2), f.cfg_data(0, -3), ack(3), f.cfg_data(1, -1000), ack(4),
                              f.cfg_data(2, 0)]


@pytest.mark.parametrize("stall,gaps", [(0.0, None), (0.7, 3)])
def test_timesteps_match_model(params, stall, gaps):
    rng = np.random.default_rng(5)
    weights = rng.integers(-8, 24, size=(params.axons, params.neurons))
    model = LifModel(params, weights)
    dut = Bench(params)
    f = Frames(dut.core)
    seq = 0
    host, expected = [], []
    for a in range(params.axons):
        for n in range(params.neurons):
            host.append(f.cfg(seq, WRITE, WEIGHT, a, n, int(weights[a, n])))
            seq += 1
    reply = 0
    for _ in range(4):
        for a in rng.integers(0, params.axons, size=6):
            host.append(f.event(seq, int(a)))
            seq += 1
        axons = [int(a) for a in host_axons(host[-6:], f)]
        host += [encode(seq, TICK), 1500]           # wait for DONE, as the protocol asks
        seq += 1
        for n in model.step(axons):
            expected.append(f.spike(reply, int(n)))
            reply += 1
        expected.append(Frame(reply, DONE, b""))
        reply += 1
    host.append(encode(0, STATUS))
    expected.append(f.status(seq, timestep=4))
    assert any(frame.code == SPIKE for frame in expected)
    assert without_acks(run(dut, host, stall=stall, gaps=gaps), seq - 1) == expected


def host_axons(event_frames, f):
    """The axons of EVENT frames (their payload byte, as none needs stuffing)."""
    return [frame[3] for frame in event_frames]


def test_repeated_command_is_acknowledged_not_executed(params):
    dut = Bench(params)
    f = Frames(dut.core)
    host = [f.cfg(0, WRITE, WEIGHT, 1, 2, 12), f.event(1, 1), f.event(1, 1), f.event(1, 1), encode(2, TICK), 400,
            f.cfg(3, READ, V, 0, 2), 100, f.cfg(3, READ, V, 0, 2)]
    # One event of weight 12: v = 12 (below the threshold); three would have fired neuron 2.
    assert run(dut, host) == [ack(0), ack(1), ack(1), ack(1), ack(2), Frame(0, DONE, b""), ack(3),
                              f.cfg_data(1, 12), ack(3)]


def test_bad_frames_are_refused_and_counted(params):
    dut = Bench(params)
    f = Frames(dut.core)
    good = f.cfg(0, WRITE, WEIGHT, 2, 3, 17)
    corrupt = bytearray(good)
    corrupt[4] ^= 0x10
    host = [bytes(corrupt),                     # a flipped bit: NAK with the expected number 0, not executed
            bytes([0x55, 0x12, 0x80]),          # garbage outside a frame: ignored
            good[:5],                           # a frame cut short by the next flag: dropped
            f.cfg(1, WRITE, WEIGHT, 2, 3, 5),   # ahead of the expected number: NAK 0
            encode(0, 0x7F),                    # an unknown code: NAK 0
            good, 20,
            f.cfg(1, READ, WEIGHT, 2, 3), 100, encode(0, STATUS)]
    assert run(dut, host) == [nak(0), nak(0), nak(0), ack(0), ack(1), f.cfg_data(0, 17),
                              f.status(2, bad_frames=3)]


def test_reply_is_held_until_acknowledged(params):
    dut = Bench(params)
    f = Frames(dut.core)
    host = [f.cfg(0, WRITE, WEIGHT, 2, 3, 17), f.cfg(1, READ, WEIGHT, 2, 3), 200,
            encode(0, NAK), 200,                # send it again
            encode(5, ACK), encode(0, NAK), 200,  # an ACK of another number releases nothing
            encode(0, ACK), 100, f.event(4, 1), 10,
            encode(0, NAK), 200]                # nothing held: nothing sent
    assert run(dut, host, acknowledge=False) == [ack(0), ack(1), f.cfg_data(0, 17), f.cfg_data(0, 17),
                                                 f.cfg_data(0, 17), nak(2)]


@pytest.mark.parametrize("delay", range(12))
def test_an_ack_as_the_held_reply_starts_again_invents_no_reply(params, delay):
    # A NAK while the reply is being sent has it sent again right after; the host's ACK of the first copy, at
    # some delay, arrives in the cycle the second starts. That ACK once released the reply and the second copy
    # went out with the next number: a reply the block never made, which the host took for the next one.
    dut = Bench(params)
    f = Frames(dut.core)
    host = [f.cfg(0, WRITE, WEIGHT, 2, 3, 17), f.cfg(1, READ, WEIGHT, 2, 3), encode(0, NAK), *[delay][:delay],
            encode(0, ACK), 100]
    replies = {frame for frame in run(dut, host, acknowledge=False) if frame.code != ACK}
    assert replies == {f.cfg_data(0, 17)}


def test_a_command_behind_a_lost_ack_of_a_reply_is_dropped_and_the_reply_sent_again(params):
    # The host's ACK of the CFG_DATA reply 0 is lost and the host sends the next read. The core cannot take it
    # while its reply is held; the bridge once waited for it there, in front of the host's repeated ACK, and
    # stopped reading the link. Now it drops the read (no ACK) and sends reply 0 again; the host acknowledges the
    # repeat and sends the read again, which is executed once.
    dut = Bench(params)
    f = Frames(dut.core)
    host = [f.cfg(0, WRITE, WEIGHT, 2, 3, 17), f.cfg(1, READ, WEIGHT, 2, 3), 200,
            f.cfg(2, READ, WEIGHT, 2, 4), 200,
            encode(0, ACK), f.cfg(2, READ, WEIGHT, 2, 4), 200, encode(1, ACK), 100]
    assert run(dut, host, acknowledge=False, deadline=5000) == [
        ack(0), ack(1), f.cfg_data(0, 17), f.cfg_data(0, 17), ack(2), f.cfg_data(1, 0)]


def test_a_tick_while_the_last_done_is_held_gets_its_own_done(params):
    # The host's ACK of DONE 0 is lost; the host, which has DONE 0, sends the next TICK. That tick has no spikes,
    # so its DONE comes while DONE 0 is still held; both must reach the host (the first was once merged into
    # the second, and the host then waited for a DONE the device no longer had).
    dut = Bench(params)
    host = [encode(0, TICK), 300, encode(1, TICK), 300, encode(0, NAK), 100, encode(0, ACK), 100, encode(1, ACK), 100]
    assert run(dut, host, acknowledge=False) == [ack(0), Frame(0, DONE, b""), ack(1), Frame(0, DONE, b""),
                                                 Frame(1, DONE, b"")]


def test_host_bridge_generic_widths():
    layout = data.StructLayout({"a": unsigned(3), "b": data.StructLayout({"x": 9}), "c": unsigned(0)})
    bridge = HostBridge(commands={"cmd": layout, "wide": unsigned(20)}, replies={"rep": signed(17)},
                        status=unsigned(8), info=b"")
    assert bridge.commands == {"cmd": (4, layout), "wide": (5, unsigned(20))}
    assert bridge.replies == {"rep": (4, signed(17))}
    got, out = [], bytearray()

    async def host(ctx):
        ctx.set(bridge.status, 0xA5)
        for byte in encode(0, 4, bytes([0xA5, 0x09])) + encode(1, 5, bytes([0x56, 0x34, 0xF2])) + \
                encode(7, STATUS):
            ctx.set(bridge.rx.valid, 1)
            ctx.set(bridge.rx.payload, byte)
            await ctx.tick().until(bridge.rx.ready)
        ctx.set(bridge.rx.valid, 0)
        await ctx.tick().repeat(60)
        ctx.set(bridge.rep.valid, 1)
        ctx.set(bridge.rep.payload, -2)
        await ctx.tick().repeat(40)
        for byte in encode(0, ACK):
            ctx.set(bridge.rx.valid, 1)
            ctx.set(bridge.rx.payload, byte)
            await ctx.tick().until(bridge.rx.ready)
        ctx.set(bridge.rx.valid, 0)
        await ctx.tick().until(bridge.rep.ready)
        ctx.set(bridge.rep.valid, 0)
        await ctx.tick().repeat(20)

    async def device(ctx):
        ctx.set(bridge.cmd.ready, 1)
        ctx.set(bridge.wide.ready, 1)
        ctx.set(bridge.tx.ready, 1)
        async for _, _, cmd, a, bx, wide, wide_payload, tx, byte in ctx.tick().sample(
                bridge.cmd.valid, bridge.cmd.payload.a, bridge.cmd.payload.b.x,
                bridge.wide.valid, bridge.wide.payload, bridge.tx.valid, bridge.tx.payload):
            if cmd:
                got.append(("cmd", a, bx))
            if wide:
                got.append(("wide", wide_payload))
            if tx:
                out.append(byte)

    sim = Simulator(bridge)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_testbench(device, background=True)
    sim.run()
    # The payload is its bits: a = 5 (bits 0-2), b.x = 0x134 (bits 3-11); wide = 0x23456 (20 of 24 bits).
    assert got == [("cmd", 5, 0x134), ("wide", 0xF23456 & 0xFFFFF)]
    # The 17-bit signed reply is its 17 bits in 3 bytes.
    assert FrameReader().feed(out) == [ack(0), ack(1), Frame(2, STATUS, b"\xA5"), Frame(0, 4, b"\xFE\xFF\x01")]


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize("kwargs,message", [
    ({"commands": {"rx": 8}}, r"^Command name 'rx' must be an identifier other than rx, tx, status, bad_frames$"),
    ({"replies": {"x": 8}, "commands": {"x": 8}}, r"^Stream name 'x' is both a command and a reply$"),
    ({"info": bytes(256)}, r"^Info must be a bytes object of at most 255 bytes, not b'\\x00"),
])
def test_host_bridge_parameters(kwargs, message):
    args = {"commands": {}, "replies": {}, "status": 8, "info": b"", **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        HostBridge(**args)
    gc.collect()    # the half-built component warns when collected; let it happen under this test's filter


# --- UART ---------------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_uart_divisor():
    assert uart_divisor(12e6, 115200) == 104
    assert uart_divisor(25_000_000, 115200) == 217
    assert uart_divisor(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match=r"^Baud rate 4000000 needs at least 4 clock cycles per bit; "
                                         r"a 1.2e\+07 Hz clock gives 3.00$"):
        uart_divisor(12e6, 4_000_000)
    with pytest.raises(ValueError, match=r"^Baud rate 2300000 must be reachable within 2% from a 1.2e\+07 Hz "
                                         r"clock; the divisor 5 is 4.35% off$"):
        uart_divisor(12e6, 2_300_000)
    with pytest.raises(TypeError, match=r"^Baud rate must be a positive integer, not 9600.0$"):
        UartTx(clk_freq=12e6, baud=9600.0)
    with pytest.raises(TypeError, match=r"^Clock frequency must be a positive number of Hz, not -1$"):
        UartRx(clk_freq=-1, baud=9600)
    gc.collect()


def test_uart_loopback_and_framing_error():
    tx, rx = UartTx(clk_freq=1e6, baud=200_000), UartRx(clk_freq=1e6, baud=200_000)
    m = Module()
    m.submodules.tx, m.submodules.rx = tx, rx
    line = [1]
    payload = [random.Random(1).randrange(256) for _ in range(20)]
    got = []

    async def send(ctx):
        for byte in payload:
            ctx.set(tx.data.valid, 1)
            ctx.set(tx.data.payload, byte)
            await ctx.tick().until(tx.data.ready)
            ctx.set(tx.data.valid, 0)
        await ctx.tick().until(tx.data.ready)
        # A frame whose stop bit is low: start, 8 data bits, low stop bit, then idle.
        for bit in [0] + [1] * 8 + [0]:
            line[0] = bit
            await ctx.tick().repeat(5)
        line[0] = 1
        await ctx.tick().repeat(60)
        assert ctx.get(rx.errors) == 1

    async def wire(ctx):
        async for _, _, txd in ctx.tick().sample(tx.tx):
            ctx.set(rx.rx, txd & line[0])

    async def receive(ctx):
        ctx.set(rx.data.ready, 1)
        async for _, _, valid, byte in ctx.tick().sample(rx.data.valid, rx.data.payload):
            if valid:
                got.append(byte)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(wire, background=True)
    sim.add_testbench(receive, background=True)
    sim.run()
    assert got == payload
