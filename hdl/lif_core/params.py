"""Validated parameters of the LIF neuron core.

One :class:`LifParams` object drives the Amaranth generator (:mod:`spikeforge.hdl.lif_core.core`), the golden
model (:mod:`spikeforge.sim.lif_core.model`) and the cocotb bench, so the three can never disagree about a
parameter. This module is pure Python: the golden model imports it without importing Amaranth.
"""

from __future__ import annotations

import dataclasses

from ..checks import check_bool, check_choice, check_int


__all__ = ["LifParams", "MAX_WEIGHT_BITS", "PER_NEURON", "MODELS", "DECAYS", "COMPARES", "RESETS",
           "BIAS_TARGETS"]


PER_NEURON = "per_neuron"
MODELS = ("if", "lif", "cuba")
DECAYS = ("shift", "mult", "linear")
COMPARES = ("gt", "ge")
RESETS = ("zero", "subtract", "none")
# Where the bias enters: the membrane voltage v (Loihi) or the current u (snnTorch's Synaptic neuron, whose
# input X = W s + b feeds I <- alpha I + X; shared/REFERENCES.md, "snnTorch 1.0 and its NIR export").
BIAS_TARGETS = ("membrane", "current")

#: The largest weight memory a core may have, in bits: more than the block RAM of any supported board (the
#: ECP5-85F has 208 x 18 kbit, the iCE40UP5K 1 Mbit of SPRAM), so a larger core cannot be built anywhere.
MAX_WEIGHT_BITS = 1 << 23

# Default decay constant for each decay kind: a shift of 4 (tau ~ 16 steps), a multiplicative decay of
# 256/4096 (the same tau), and a linear leak of 1 per step.
_DEFAULT_DECAY = {"shift": 4, "mult": 256, "linear": 1}

# Intel Loihi, as modelled bit for bit by Lava's PyLifModelBitAcc (lava-nc, lava/proc/lif/models.py).
_LOIHI_STATE_BITS = 24
_LOIHI_INPUT_SHIFT = 6
_LOIHI_KEYS = ("du", "dv", "vth", "bias_mant", "bias_exp")
# Keys a user may give together with ``preset = "loihi"``; the others are fixed by the preset.
_LOIHI_FREE = ("neurons", "axons", "lanes", "weight_bits", "preset") + _LOIHI_KEYS


def _signed_range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _bits_for(count):
    """Address width for ``count`` items (at least 1 bit)."""
    return max(1, (count - 1).bit_length())


def _learning(stdp):
    """True when ``stdp`` (a :class:`~spikeforge.hdl.stdp.params.StdpParams` or None) builds a learning engine."""
    return stdp is not None and stdp.enabled


@dataclasses.dataclass(frozen=True)
class LifParams:
    """Parameters of a time-multiplexed core of ``neurons`` LIF neurons fed by ``axons`` axons.

    Construct with :meth:`create`, which validates every value; the fields below are then derived and
    read-only.

    Parameters
    ----------
    neurons : int
        Number of neurons N, 1..65536, a multiple of ``lanes``.
    axons : int
        Number of axons A, 1..65536; the weights, A x N x ``weight_bits``, at most :data:`MAX_WEIGHT_BITS`.
    lanes : int
        P, the neurons (or synapses) processed per cycle: a power of two, 1..64, dividing ``neurons``.
    weight_bits : int
        Width of a signed weight, 2..16.
    state_bits : int
        Width of the signed membrane voltage ``v`` and current ``u``, 4..32.
    acc_bits : int
        Width of the signed input accumulator; defaults to ``state_bits``.
    model : str
        ``"if"`` (no leak), ``"lif"`` (leaky voltage) or ``"cuba"`` (leaky current feeding a leaky voltage).
    decay : str
        How a leak is applied: ``"shift"`` (x - (x >> k)), ``"mult"`` (x * (4096 - d) >> 12, rounding toward
        zero) or ``"linear"`` (x steps toward 0 by a constant and never crosses it).
    decay_v, decay_u : int
        The constant k, d or c of the voltage and current decays (``decay_u`` for cuba only).
    threshold : int or "per_neuron"
        Firing threshold, global, or per neuron through the configuration port.
    compare : str
        ``"gt"``: spike when v > threshold; ``"ge"``: when v >= threshold.
    reset : str
        ``"zero"``: v <- ``v_reset``; ``"subtract"``: v <- v - threshold; ``"none"``: v is kept.
    v_reset : int
        Reset voltage for ``reset = "zero"``.
    refractory : int
        Steps a neuron holds its voltage and cannot fire after a spike, 0..255.
    bias : int or "per_neuron"
        Constant added every step, global, or per neuron through the configuration port.
    bias_into : str
        Where the bias is added: ``"membrane"``, to the voltage v; ``"current"``, to the current u together
        with the input (model ``"cuba"`` only), as snnTorch's Synaptic neuron adds an Affine layer's bias.
    saturate : bool
        Saturate (true) or wrap in two's complement (false) when the accumulator, u or v overflows.
    preset : str or None
        ``"loihi"`` reproduces Lava's bit-accurate Loihi LIF neuron; it takes ``du``, ``dv``, ``vth``,
        ``bias_mant`` and ``bias_exp`` and fixes the neuron parameters above.

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a parameter is out of its range, breaks a rule relating it to another, or is unknown.
    """

    neurons: int
    axons: int
    lanes: int
    weight_bits: int
    state_bits: int
    acc_bits: int
    model: str
    decay: str
    decay_v: int
    decay_u: int
    threshold: object
    compare: str
    reset: str
    v_reset: int
    refractory: int
    bias: object
    bias_into: str
    saturate: bool
    preset: object
    # Loihi only (zero otherwise).
    du: int = 0
    dv: int = 0
    vth: int = 0
    bias_mant: int = 0
    bias_exp: int = 0

    @classmethod
    def keys(cls):
        """The names accepted by :meth:`create`."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def create(cls, **kwargs):
        """Validate keyword parameters and return a :class:`LifParams`."""
        unknown = sorted(set(kwargs) - set(cls.keys()))
        if unknown:
            raise ValueError(f"Unknown parameter '{unknown[0]}'; known parameters are "
                             f"{', '.join(cls.keys())}")
        preset = kwargs.get("preset")
        if preset is None:
            return cls._create_generic(**kwargs)
        check_choice("preset", preset, ("loihi",))
        return cls._create_loihi(**kwargs)

    @classmethod
    def _create_shape(cls, neurons, axons, lanes, weight_bits):
        check_int("neurons", neurons, 1, 65536)
        check_int("axons", axons, 1, 65536)
        check_int("lanes", lanes, 1, 64)
        if lanes & (lanes - 1):
            raise ValueError(f"Parameter 'lanes' must be a power of two; {lanes} is not")
        if neurons % lanes:
            raise ValueError(f"Parameter 'lanes' must divide 'neurons'; {neurons} is not divisible by {lanes}")
        check_int("weight_bits", weight_bits, 2, 16)
        bits = axons * neurons * weight_bits
        if bits > MAX_WEIGHT_BITS:
            raise ValueError(f"Parameter 'axons' x 'neurons' x 'weight_bits' = {axons} x {neurons} x {weight_bits} "
                             f"= {bits} bits of weights; at most {MAX_WEIGHT_BITS} (8 Mbit) fit a core, more than "
                             f"any supported board holds")

    @classmethod
    def _create_generic(cls, *, neurons, axons, lanes=1, weight_bits=8, state_bits=16, acc_bits=None,
                        model="lif", decay="shift", decay_v=None, decay_u=None, threshold=64,
                        compare="gt", reset="zero", v_reset=0, refractory=0, bias=0, bias_into="membrane",
                        saturate=True, preset=None, **loihi):
        for key, value in loihi.items():
            if value:
                raise ValueError(f"Parameter '{key}' belongs to preset 'loihi' and needs preset = \"loihi\"")
        cls._create_shape(neurons, axons, lanes, weight_bits)
        check_int("state_bits", state_bits, 4, 32)
        if acc_bits is None:
            acc_bits = state_bits
        check_int("acc_bits", acc_bits, weight_bits, 32, f"must be in the range {weight_bits}..32 "
                   f"(at least 'weight_bits')")
        check_choice("model", model, MODELS)
        check_choice("decay", decay, DECAYS)
        lo, hi = _signed_range(state_bits)
        decay_range = {"shift": (0, state_bits - 1), "mult": (0, 4096), "linear": (0, hi)}[decay]
        if decay_v is None:
            decay_v = _DEFAULT_DECAY[decay] if model != "if" else 0
        if decay_u is None:
            decay_u = _DEFAULT_DECAY[decay] if model == "cuba" else 0
        if model != "if":
            check_int("decay_v", decay_v, *decay_range, f"must be in the range "
                       f"{decay_range[0]}..{decay_range[1]} for decay = {decay!r}")
        elif decay_v:
            raise ValueError(f"Parameter 'decay_v' must be 0 for model = 'if' (no leak), not {decay_v!r}")
        if model == "cuba":
            check_int("decay_u", decay_u, *decay_range, f"must be in the range "
                       f"{decay_range[0]}..{decay_range[1]} for decay = {decay!r}")
        elif decay_u:
            raise ValueError(f"Parameter 'decay_u' is only used by model = 'cuba', not {model!r}")
        if threshold != PER_NEURON:
            check_int("threshold", threshold, lo, hi, f"must be \"per_neuron\" or in the range {lo}..{hi}")
        check_choice("compare", compare, COMPARES)
        check_choice("reset", reset, RESETS)
        check_int("v_reset", v_reset, lo, hi)
        if reset != "zero" and v_reset:
            raise ValueError(f"Parameter 'v_reset' is only used by reset = 'zero', not {reset!r}")
        check_int("refractory", refractory, 0, 255)
        if bias != PER_NEURON:
            check_int("bias", bias, lo, hi, f"must be \"per_neuron\" or in the range {lo}..{hi}")
        check_choice("bias_into", bias_into, BIAS_TARGETS)
        if bias_into == "current" and model != "cuba":
            raise ValueError(f"Parameter 'bias_into' = 'current' needs model = 'cuba' (the only model with a "
                             f"current), not {model!r}")
        check_bool("saturate", saturate)
        return cls(neurons=neurons, axons=axons, lanes=lanes, weight_bits=weight_bits, state_bits=state_bits,
                   acc_bits=acc_bits, model=model, decay=decay, decay_v=decay_v, decay_u=decay_u,
                   threshold=threshold, compare=compare, reset=reset, v_reset=v_reset,
                   refractory=refractory, bias=bias, bias_into=bias_into, saturate=saturate, preset=None)

    @classmethod
    def _create_loihi(cls, **kwargs):
        fixed = sorted(set(kwargs) - set(_LOIHI_FREE))
        if fixed:
            raise ValueError(f"Parameter '{fixed[0]}' is fixed by preset 'loihi'; it takes only "
                             f"{', '.join(k for k in _LOIHI_FREE if k != 'preset')}")
        neurons, axons = kwargs.get("neurons"), kwargs.get("axons")
        lanes, weight_bits = kwargs.get("lanes", 1), kwargs.get("weight_bits", 8)
        cls._create_shape(neurons, axons, lanes, weight_bits)
        du = check_int("du", kwargs.get("du", 0), 0, 4095)
        dv = check_int("dv", kwargs.get("dv", 0), 0, 4095)
        vth = check_int("vth", kwargs.get("vth", 10), 0, (1 << 17) - 1)
        bias_mant = check_int("bias_mant", kwargs.get("bias_mant", 0), -(1 << 12), (1 << 12) - 1)
        bias_exp = check_int("bias_exp", kwargs.get("bias_exp", 0), 0, 7)
        return cls(neurons=neurons, axons=axons, lanes=lanes, weight_bits=weight_bits,
                   state_bits=_LOIHI_STATE_BITS,
                   # a_in << 6 must fit the 24-bit current for Lava's single wrap to bring u back in range.
                   acc_bits=_LOIHI_STATE_BITS - _LOIHI_INPUT_SHIFT,
                   model="cuba", decay="mult", decay_v=dv, decay_u=du + 1,
                   threshold=vth << _LOIHI_INPUT_SHIFT, compare="gt", reset="zero", v_reset=0,
                   refractory=0, bias=bias_mant << bias_exp, bias_into="membrane", saturate=True, preset="loihi",
                   du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)

    # Derived quantities, shared by the generator and the model.

    @property
    def groups(self):
        """G = N / P: the neuron groups the core visits one per cycle."""
        return self.neurons // self.lanes

    @property
    def axon_bits(self):
        """Width of an axon number (at least 1 bit)."""
        return _bits_for(self.axons)

    @property
    def neuron_bits(self):
        """Width of a neuron number (at least 1 bit)."""
        return _bits_for(self.neurons)

    @property
    def group_bits(self):
        """Width of a group number, the address of the state memory (at least 1 bit)."""
        return _bits_for(self.groups)

    @property
    def lane_bits(self):
        """Width of a lane number, the low bits of a neuron number (0 for one lane)."""
        return (self.lanes - 1).bit_length()

    @property
    def loihi(self):
        return self.preset == "loihi"

    @property
    def has_current(self):
        return self.model == "cuba"

    @property
    def input_shift(self):
        """Left shift applied to the accumulated input before it enters u (Loihi: 6)."""
        return _LOIHI_INPUT_SHIFT if self.loihi else 0

    @property
    def u_bits(self):
        """Stored width of u. Lava's wrap keeps u in (-2**23, 2**23], which needs one bit more."""
        return self.state_bits + 1 if self.loihi else self.state_bits

    @property
    def v_range(self):
        """Inclusive (min, max) of v. Loihi saturates symmetrically to +-(2**23 - 1)."""
        lo, hi = _signed_range(self.state_bits)
        return (lo + 1, hi) if self.loihi else (lo, hi)

    @property
    def u_range(self):
        lo, hi = _signed_range(self.state_bits)
        return (lo + 1, hi + 1) if self.loihi else (lo, hi)

    @property
    def acc_range(self):
        return _signed_range(self.acc_bits)

    @property
    def weight_range(self):
        return _signed_range(self.weight_bits)

    @property
    def refractory_bits(self):
        return self.refractory.bit_length()

    @property
    def per_neuron_threshold(self):
        return self.threshold == PER_NEURON

    @property
    def per_neuron_bias(self):
        return self.bias == PER_NEURON

    @property
    def bias_into_current(self):
        """The bias is added to the current u, not to the voltage v."""
        return self.bias_into == "current"

    def neuron_fields(self, stdp=None):
        """The fields of one neuron's record in the state memory, in their order: ``{name: (width, signed)}``.

        ``acc`` and ``v`` always; ``u`` (model cuba), ``refractory`` (refractory > 0), ``threshold`` and ``bias``
        (per neuron) when this core has them; with a learning engine (``stdp`` a
        :class:`~spikeforge.hdl.stdp.params.StdpParams` that is enabled) the postsynaptic trace ``y`` and the
        plasticity flag ``plastic``.
        """
        fields = {"acc": (self.acc_bits, True), "v": (self.state_bits, True)}
        if self.has_current:
            fields["u"] = (self.u_bits, True)
        if self.refractory:
            fields["refractory"] = (self.refractory_bits, False)
        if self.per_neuron_threshold:
            fields["threshold"] = (self.state_bits, True)
        if self.per_neuron_bias:
            fields["bias"] = (self.state_bits, True)
        if _learning(stdp):
            fields["y"] = (stdp.trace_bits, False)
            fields["plastic"] = (1, False)
        return fields

    def cfg_data_bits(self, stdp=None):
        """Width of the signed ``data`` of a configuration command and response: it holds the widest field
        (an unsigned field of w bits needs w + 1), with the learning engine's fields when ``stdp`` is enabled."""
        widths = [self.weight_bits, self.acc_bits, self.u_bits, self.state_bits, self.refractory_bits + 1]
        if _learning(stdp):
            widths += [stdp.trace_bits + 1, stdp.eligibility_bits]
            if stdp.has_lfsr:
                widths.append(16 + 1)       # an LFSR's state
        return max(widths)

    def to_dict(self):
        """The parameters as given to :meth:`create` (a TOML ``[lif_core]`` table)."""
        if self.loihi:
            return {k: getattr(self, k) for k in _LOIHI_FREE}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in _LOIHI_KEYS and f.name != "preset"}
