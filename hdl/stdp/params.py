"""Validated parameters of the STDP learning engine (a ``[stdp]`` table beside ``[lif_core]``).

Pure Python: the golden model imports it without Amaranth. See docs/stdp.md for the rule and which trace value
each update reads.
"""

from __future__ import annotations

import dataclasses

from ..checks import check_bool, check_choice, check_int
from ..lif_core.params import LifParams


__all__ = ["StdpParams", "ACCUMULATE", "WEIGHT_PORTS"]


ACCUMULATE = ("all", "nearest")
WEIGHT_PORTS = ("dual", "single")


@dataclasses.dataclass(frozen=True)
class StdpParams:
    """Pair-based STDP with traces, optionally stochastic and reward-modulated.

    Parameters
    ----------
    enabled : bool
        Build the learning engine (false: the core is inference only).
    trace_bits : int
        Width of the unsigned pre- and postsynaptic traces, 2..16.
    tau_pre_shift, tau_post_shift : int
        Trace decay per tick, x <- x - (x >> shift); 1..trace_bits - 1.
    impulse : int
        What a spike adds to its trace (saturating), 1..2**trace_bits - 1.
    accumulate : str
        ``"all"`` (all-to-all: the impulse adds to the trace) or ``"nearest"`` (nearest spike: the trace is set
        to the impulse).
    a_plus, a_minus : int
        Potentiation and depression factors, 0..2**12 - 1.
    lr_shift : int
        The updates are (a * trace) >> lr_shift; 0..16.
    w_min, w_max : int
        Weights clip to [w_min, w_max], inside the core's weight range.
    stochastic : bool
        Round each update stochastically with a per-lane 16-bit LFSR seeded from ``seed``.
    seed : int
        LFSR seed, 1..65535.
    reward : bool
        Reward-modulated STDP: the STDP terms go into per-synapse eligibility traces, applied to the weights by
        reward commands.
    eligibility_bits : int
        Width of a signed eligibility trace, 2..16 (reward only).
    eligibility_shift : int
        Eligibility decay per tick, e <- e - (e >> shift); 1..eligibility_bits - 1 (reward only).
    reward_bits : int
        Width of the signed reward value of a reward command, 2..16 (reward only).
    weight_port : str
        ``"dual"`` (default): the weight memory reads a word and writes another in the same cycle, P weight
        updates per cycle. ``"single"``: one access per cycle, so the memory maps to single-port RAM (the
        iCE40UP5K's SPRAM, which a 256 x 256 x 8-bit core needs); every update then takes a read cycle and a
        write cycle (P/2 updates per cycle, and the integrate pass half as fast). The learning rule is the same.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter, the value and the rule.
    """

    enabled: bool
    trace_bits: int
    tau_pre_shift: int
    tau_post_shift: int
    impulse: int
    accumulate: str
    a_plus: int
    a_minus: int
    lr_shift: int
    w_min: int
    w_max: int
    stochastic: bool
    seed: int
    reward: bool
    eligibility_bits: int
    eligibility_shift: int
    reward_bits: int
    weight_port: str

    @classmethod
    def keys(cls):
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def create(cls, core, **kwargs):
        """Validate keyword parameters against the core they teach (a :class:`LifParams`)."""
        if not isinstance(core, LifParams):
            raise TypeError(f"core must be a LifParams, not {core!r}")
        unknown = sorted(set(kwargs) - set(cls.keys()))
        if unknown:
            raise ValueError(f"Unknown parameter '{unknown[0]}'; known parameters are {', '.join(cls.keys())}")
        return cls._create(core, **kwargs)

    @classmethod
    def _create(cls, core, *, enabled=True, trace_bits=8, tau_pre_shift=3, tau_post_shift=3, impulse=64,
                accumulate="all", a_plus=16, a_minus=17, lr_shift=8, w_min=None, w_max=None, stochastic=False,
                seed=1, reward=False, eligibility_bits=12, eligibility_shift=3, reward_bits=8, weight_port="dual"):
        check_bool("enabled", enabled)
        check_int("trace_bits", trace_bits, 2, 16)
        for name, value in (("tau_pre_shift", tau_pre_shift), ("tau_post_shift", tau_post_shift)):
            check_int(name, value, 1, trace_bits - 1,
                       f"must be in the range 1..{trace_bits - 1} (narrower than trace_bits = {trace_bits})")
        check_int("impulse", impulse, 1, (1 << trace_bits) - 1)
        check_choice("accumulate", accumulate, ACCUMULATE)
        check_int("a_plus", a_plus, 0, (1 << 12) - 1)
        check_int("a_minus", a_minus, 0, (1 << 12) - 1)
        check_int("lr_shift", lr_shift, 0, 16)
        lo, hi = core.weight_range
        w_min = lo if w_min is None else w_min
        w_max = hi if w_max is None else w_max
        check_int("w_min", w_min, lo, hi, f"must be in the core's weight range {lo}..{hi}")
        check_int("w_max", w_max, lo, hi, f"must be in the core's weight range {lo}..{hi}")
        if w_min > w_max:
            raise ValueError(f"Parameter 'w_min' must not exceed 'w_max'; {w_min} > {w_max}")
        check_bool("stochastic", stochastic)
        check_int("seed", seed, 1, 65535)
        check_bool("reward", reward)
        check_int("eligibility_bits", eligibility_bits, 2, 16)
        check_int("eligibility_shift", eligibility_shift, 1, eligibility_bits - 1,
                   f"must be in the range 1..{eligibility_bits - 1} (narrower than eligibility_bits = "
                   f"{eligibility_bits})")
        check_int("reward_bits", reward_bits, 2, 16)
        check_choice("weight_port", weight_port, WEIGHT_PORTS)
        return cls(enabled=enabled, trace_bits=trace_bits, tau_pre_shift=tau_pre_shift,
                   tau_post_shift=tau_post_shift, impulse=impulse, accumulate=accumulate, a_plus=a_plus,
                   a_minus=a_minus, lr_shift=lr_shift, w_min=w_min, w_max=w_max, stochastic=stochastic,
                   seed=seed, reward=reward, eligibility_bits=eligibility_bits,
                   eligibility_shift=eligibility_shift, reward_bits=reward_bits, weight_port=weight_port)

    @property
    def trace_max(self):
        return (1 << self.trace_bits) - 1

    @property
    def eligibility_range(self):
        return -(1 << (self.eligibility_bits - 1)), (1 << (self.eligibility_bits - 1)) - 1

    @property
    def reward_range(self):
        return -(1 << (self.reward_bits - 1)), (1 << (self.reward_bits - 1)) - 1

    @property
    def has_lfsr(self):
        """Stochastic rounding of a nonzero ``lr_shift`` draws from per-lane LFSRs (:mod:`.lfsr`)."""
        return self.stochastic and self.lr_shift > 0

    @property
    def delta_bits(self):
        """Signed width that holds any single change: -depression, potentiation or a reward's change."""
        rounding = (1 << self.lr_shift) - 1
        step = max(self.a_plus, self.a_minus) * self.trace_max + rounding
        if self.reward:
            e_lo, _ = self.eligibility_range
            r_lo, _ = self.reward_range
            step = max(step, r_lo * e_lo + rounding)
        return (step >> self.lr_shift).bit_length() + 1

    def to_dict(self):
        return dataclasses.asdict(self)
