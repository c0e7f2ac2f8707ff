"""The chip's timestep controller: phases with a quiescence barrier between them (docs/chip.md).

A step: the host's input spikes go in, then the host's ``step``. The controller waits until the chip is quiet
(no packet in any router, tile or the host port's input side; no core ticking), then ticks every core of phase
0 and waits for each to finish, waits until quiet again (their spikes have reached the cores of later phases),
and so on for every phase; after the last it waits until the chip is quiet and the host has taken every output
spike, then pulses ``done``.

The barrier is exact: nothing in the chip creates a packet but a ticking core or the host, so when every place
that can hold a packet is empty in one cycle and no core ticks, it stays so until the controller ticks again.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Controller", "PHASE_BITS"]


PHASE_BITS = 8       # phases are 0..255 (a chip has at most 256 cores)


class Controller(wiring.Component):
    """Sequences the phases of a timestep over ``tiles`` tiles.

    Members
    -------
    step : In(stream.Signature(1))
        The host's end of a step's inputs; accepted when the controller is idle.
    idle : Out(1)
        No step is running: the host's input spikes may go in (they belong to the next step).
    done : Out(1)
        One-cycle pulse when the step is over and every output spike has left the chip.
    tick : Out(stream.Signature(1)).array(tiles)
        The tiles' ticks.
    tile_done : In(1).array(tiles)
        The tiles' done pulses.
    phase : In(PHASE_BITS).array(tiles)
        Each tile's phase (a tile whose phase is ``phases`` or more never ticks).
    phases : In(PHASE_BITS + 1)
        The phases of a step.
    quiet : In(1)
        No packet is held anywhere in the chip and no core is ticking.
    drained : In(1)
        The host port holds no output spike.
    timestep : Out(32)
        Steps completed.
    """

    def __init__(self, tiles):
        self._tiles = tiles
        super().__init__({
            "step": In(stream.Signature(1)),
            "idle": Out(1),
            "done": Out(1),
            "tick": Out(stream.Signature(1)).array(tiles),
            "tile_done": In(1).array(tiles),
            "phase": In(PHASE_BITS).array(tiles),
            "phases": In(PHASE_BITS + 1),
            "quiet": In(1),
            "drained": In(1),
            "timestep": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        current = Signal(PHASE_BITS + 1)
        offered = Signal(self._tiles)         # ticks offered, not yet taken
        running = Signal(self._tiles)         # ticks taken, not yet done
        in_phase = Cat(self.phase[i] == current for i in range(self._tiles))
        taken = Cat(t.valid & t.ready for t in self.tick)
        finished = Cat(self.tile_done)
        m.d.comb += [t.valid.eq(offered[i]) for i, t in enumerate(self.tick)]
        m.d.sync += [offered.eq(offered & ~taken), running.eq((running | taken) & ~finished)]

        with m.FSM(name="step"):
            with m.State("IDLE"):
                m.d.comb += [self.idle.eq(1), self.step.ready.eq(1)]
                with m.If(self.step.valid):
                    m.d.sync += current.eq(0)
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                with m.If(self.quiet):
                    with m.If(current >= self.phases):
                        m.next = "FINISH"
                    with m.Else():
                        m.d.sync += offered.eq(in_phase)
                        m.next = "PHASE"
            with m.State("PHASE"):
                with m.If((offered == 0) & (running == 0)):
                    m.d.sync += current.eq(current + 1)
                    m.next = "SETTLE"
            with m.State("FINISH"):
                with m.If(self.quiet & self.drained):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.timestep.eq(self.timestep + 1)
                    m.next = "IDLE"
        return m
