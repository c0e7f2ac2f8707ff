"""The per-lane LFSRs of stochastic rounding: taps and start states, shared by the generator
(:mod:`spikeforge.hdl.stdp.engine`) and the golden model (:mod:`spikeforge.sim.stdp.model`).

Pure Python (no Amaranth). Each lane has a 16-bit Galois LFSR, x^16 + x^14 + x^13 + x^11 + 1 (maximal length:
it visits every nonzero state); it steps as ``state = (state >> 1) ^ (LFSR_TAPS if state & 1 else 0)``.
"""

__all__ = ["LFSR_TAPS", "lfsr_seeds"]


# x^16 + x^14 + x^13 + x^11 + 1.
LFSR_TAPS = 0xB400


def lfsr_seeds(seed, lanes):
    """The start states of ``lanes`` LFSRs seeded from ``seed`` (1..65535): lane l starts at
    ``((seed - 1 + 4099 l) mod 65535) + 1``, nonzero, and distinct for up to 64 lanes."""
    return tuple(((seed - 1 + lane * 4099) % 65535) + 1 for lane in range(lanes))
