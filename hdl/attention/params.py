"""Validated parameters of the spike-driven self-attention unit (Spike-driven Transformer V1 and V2).

One :class:`AttentionParams` object drives the Amaranth generator (:mod:`spikeforge.hdl.attention.unit`), the
golden model (:mod:`spikeforge.sim.attention.model`) and the cocotb bench. This module is pure Python: the golden
model imports it without importing Amaranth.

Fixed point of the spiking neuron (SN). The membrane ``V``, the input ``X`` and the threshold are held as
integers in units of ``2**-frac_bits``. With the input ``X = count * 2**-scale_shift`` and the decay
``H = V + (X - V) / 2**decay_shift``, the membrane after ``t`` timesteps is a multiple of
``2**-(scale_shift + decay_shift * t)``, so ``frac_bits = scale_shift + decay_shift * timesteps`` makes every
timestep of an attention call exact (the default). Fewer bits are allowed; the arithmetic shift then rounds
toward minus infinity, in the model and the RTL alike.
"""

from __future__ import annotations

import dataclasses
import math

from ..checks import check_choice, check_int


__all__ = ["AttentionParams", "SCHEDULES", "VARIANTS"]


VARIANTS = ("v1", "v2")
#: "events": the work follows the spikes; "dense": every (token, channel) and every (i, j) pair is visited.
SCHEDULES = ("events", "dense")
_REQUIRED = ("variant", "tokens", "channels")

# SpikingJelly's MultiStepLIFNode in the Spike-driven Transformer code: tau = 2, v_threshold = 0.5.
_DEFAULT_THRESHOLD = 0.5
_DEFAULT_DECAY_SHIFT = 1
# V2 (Meta-SpikeFormer) scales Q K^T V by 0.125; V1 feeds the sum of K AND V to the SN unscaled.
_DEFAULT_SCALE_SHIFT = {"v1": 0, "v2": 3}
_MAX_THRESHOLD_FRAC = 24
# The golden model computes in int64; the widest SN operand must leave room for a sign and one carry.
_MAX_SN_BITS = 62


def _fraction_bits(value):
    """The fewest fractional bits that hold the float ``value`` exactly, or None when more than the limit."""
    for bits in range(_MAX_THRESHOLD_FRAC + 1):
        scaled = value * (1 << bits)
        if scaled == math.floor(scaled):
            return bits
    return None


@dataclasses.dataclass(frozen=True)
class AttentionParams:
    """Parameters of a spike-driven self-attention unit over ``tokens`` x ``channels`` binary Q, K and V.

    Construct with :meth:`create`, which validates every value; the fields are then read-only.

    Parameters
    ----------
    variant : str
        ``"v1"``: O = Q AND SN(sum over tokens of K AND V), per channel (Spike-driven Transformer,
        MS_SSA_Conv). ``"v2"``: O = SN((Q (K^T V)) * 2**-scale_shift), per head (Meta-SpikeFormer).
    tokens : int
        N, the rows of Q, K and V per timestep, 1..4096.
    channels : int
        D, the columns, 1..1024.
    heads : int
        H, dividing ``channels``; a head has D / H channels.
    timesteps : int
        T, the timesteps of one attention call, 1..64. The SN membrane carries over them and starts at 0 in
        the next call.
    lanes : int
        L, the additions done per cycle: a power of two dividing ``channels`` (v1) or the head width (v2).
    count_bits : int
        Width of a co-occurrence count (kv in v1, an entry of K^T V in v2), 1..32. Counts saturate at
        ``2**count_bits - 1``; the default, ``tokens.bit_length()``, never saturates.
    threshold : float
        SN firing threshold, positive, a multiple of ``2**-frac_bits``; spike when H >= threshold.
    scale_shift : int
        The SN input is the count times ``2**-scale_shift``, 0..16. Default 0 for v1, 3 (0.125) for v2.
    decay_shift : int
        tau = ``2**decay_shift``, 0..8 (default 1: tau = 2). H = V + (X - V) / tau.
    frac_bits : int
        Fractional bits of the fixed-point SN. Default: exact over the timesteps (see the module docstring).
    schedule : str
        ``"events"`` (the default): the spikes are turned into addresses and only they are added, so the cycles
        follow the activity. ``"dense"``: every (token, channel) position and every (i, j) pair of K^T V is
        visited whatever the spikes; fewer cells, and as fast at very high activity (docs/attention.md).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a parameter is out of its range, breaks a rule relating it to another, or is unknown.
    """

    variant: str
    tokens: int
    channels: int
    heads: int
    timesteps: int
    lanes: int
    count_bits: int
    threshold: float
    scale_shift: int
    decay_shift: int
    frac_bits: int
    schedule: str

    @classmethod
    def keys(cls):
        """The names accepted by :meth:`create`."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def create(cls, **kwargs):
        """Validate keyword parameters and return an :class:`AttentionParams`."""
        unknown = sorted(set(kwargs) - set(cls.keys()))
        if unknown:
            raise ValueError(f"Unknown parameter '{unknown[0]}'; known parameters are "
                             f"{', '.join(cls.keys())}")
        for key in _REQUIRED:
            if key not in kwargs:
                raise ValueError(f"Parameter '{key}' is required")
        return cls._create(**kwargs)

    @classmethod
    def _create(cls, *, variant, tokens, channels, heads=1, timesteps=4, lanes=1, count_bits=None,
                threshold=_DEFAULT_THRESHOLD, scale_shift=None, decay_shift=_DEFAULT_DECAY_SHIFT,
                frac_bits=None, schedule="events"):
        if variant not in VARIANTS:
            raise ValueError(f"Parameter 'variant' must be one of {', '.join(map(repr, VARIANTS))}, "
                             f"not {variant!r}")
        check_int("tokens", tokens, 1, 4096)
        check_int("channels", channels, 1, 1024)
        check_int("heads", heads, 1, channels, f"must be in the range 1..{channels} (at most 'channels')")
        if channels % heads:
            raise ValueError(f"Parameter 'heads' must divide 'channels'; {channels} is not divisible by "
                             f"{heads}")
        check_int("timesteps", timesteps, 1, 64)
        check_int("lanes", lanes, 1, channels, f"must be in the range 1..{channels} (at most 'channels')")
        if lanes & (lanes - 1):
            raise ValueError(f"Parameter 'lanes' must be a power of two; {lanes} is not")
        width = channels // heads if variant == "v2" else channels
        what = "the head width 'channels' / 'heads'" if variant == "v2" else "'channels'"
        if width % lanes:
            raise ValueError(f"Parameter 'lanes' must divide {what}; {width} is not divisible by {lanes}")
        if count_bits is None:
            count_bits = tokens.bit_length()
        check_int("count_bits", count_bits, 1, 32)
        if scale_shift is None:
            scale_shift = _DEFAULT_SCALE_SHIFT[variant]
        check_int("scale_shift", scale_shift, 0, 16)
        check_int("decay_shift", decay_shift, 0, 8)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"Parameter 'threshold' must be a number, not {threshold!r}")
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"Parameter 'threshold' must be positive and finite; {threshold!r} is not")
        threshold_frac = _fraction_bits(threshold)
        if threshold_frac is None:
            raise ValueError(f"Parameter 'threshold' must be a multiple of 2**-{_MAX_THRESHOLD_FRAC}; "
                             f"{threshold!r} is not")
        if frac_bits is None:
            frac_bits = max(scale_shift + decay_shift * timesteps, threshold_frac)
        check_int("frac_bits", frac_bits, threshold_frac, 48,
                   f"must be in the range {threshold_frac}..48 (threshold {threshold!r} needs "
                   f"{threshold_frac} fractional bits)")
        check_choice("schedule", schedule, SCHEDULES)
        params = cls(variant=variant, tokens=tokens, channels=channels, heads=heads, timesteps=timesteps,
                     lanes=lanes, count_bits=count_bits, threshold=threshold, scale_shift=scale_shift,
                     decay_shift=decay_shift, frac_bits=frac_bits,
                     schedule=schedule)
        if params.sn_bits > _MAX_SN_BITS:
            raise ValueError(f"Parameter 'frac_bits' makes the SN input {params.sn_bits} bits wide, more than "
                             f"{_MAX_SN_BITS}; lower 'frac_bits', 'count_bits' or 'timesteps'")
        return params

    # Derived quantities, shared by the generator, the model and the bench.

    @property
    def head_channels(self):
        """Dh = D / H."""
        return self.channels // self.heads

    @property
    def count_max(self):
        """A count saturates here."""
        return (1 << self.count_bits) - 1

    @property
    def x_max(self):
        """Largest SN input in counts: a count (v1) or a sum of ``head_channels`` counts (v2)."""
        return self.count_max * (self.head_channels if self.variant == "v2" else 1)

    @property
    def x_bits(self):
        return self.x_max.bit_length()

    @property
    def input_shift(self):
        """SN input in fixed point: ``count << input_shift`` (or ``>> -input_shift`` when negative)."""
        return self.frac_bits - self.scale_shift

    @property
    def sn_bits(self):
        """Width of the fixed-point SN input (unsigned)."""
        return max(1, self.x_bits + self.input_shift)

    @property
    def threshold_fixed(self):
        """The threshold in units of ``2**-frac_bits``."""
        return int(self.threshold * (1 << self.frac_bits))

    @property
    def membrane_bits(self):
        """Width of the stored membrane: it lies in 0 .. threshold - 1 LSB between timesteps."""
        return max(1, (self.threshold_fixed - 1).bit_length())

    @property
    def exact(self):
        """True when the fixed-point SN and the counts equal the real-valued equations for every input."""
        return (self.frac_bits >= self.scale_shift + self.decay_shift * self.timesteps
                and self.count_bits >= self.tokens.bit_length())

    @property
    def sn_elements(self):
        """SN neurons: one per channel (v1) or per token and channel (v2)."""
        return self.channels if self.variant == "v1" else self.tokens * self.channels

    @property
    def additions_per_timestep(self):
        """Dense additions of one timestep: the masked count updates (N D in v1, N D Dh in v2) and, in v2, the
        masked sums of Q M (N D Dh). The dense schedule performs all of them whatever the spikes are; the
        events schedule only those the spikes ask for (:func:`spikeforge.sim.attention.model.event_additions`).
        The SN updates (:attr:`sn_elements` per timestep) are not counted."""
        n, d, dh = self.tokens, self.channels, self.head_channels
        if self.variant == "v1":
            return n * d
        return 2 * n * d * dh

    @property
    def additions_per_call(self):
        return self.timesteps * self.additions_per_timestep

    @property
    def softmax_macs(self):
        """Multiply-accumulates of one softmax attention of the same shape (Q K^T and A V over all heads),
        not counting the softmax itself."""
        return 2 * self.tokens * self.tokens * self.channels

    def to_dict(self):
        """The parameters as given to :meth:`create` (an ``[attention]`` TOML table)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
