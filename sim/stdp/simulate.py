"""A stimulus of input events and reward commands run on the golden model of a learning core (the ``simulate``
command's model back end), and what it shares with the RTL back end (:mod:`spikeforge.sim.stdp.rtl`).

A reward ``(t, value)`` is delivered after the tick of step ``t`` (it judges that step's spikes), the rewards of
one step in the order given, before the events of step ``t + 1``.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.stdp.model import StdpModel


__all__ = ["check_params", "check_steps", "learned_result", "schedule_rewards", "simulate_model",
           "simulate_model_steps"]


def check_params(params, stdp):
    if not isinstance(params, LifParams):
        raise TypeError(f"params must be a LifParams, not {params!r}")
    if not isinstance(stdp, StdpParams) or not stdp.enabled:
        raise TypeError(f"stdp must be an enabled StdpParams, not {stdp!r}")


def check_steps(steps):
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"Steps must be a non-negative integer, not {steps!r}")


def schedule_rewards(stdp, rewards, steps):
    """The rewards inside ``0 <= t < steps`` as ``[t, value]`` lists, in the order given.

    Raises
    ------
    ValueError
        If there are rewards and the engine takes none, or a value does not fit ``reward_bits``.
    """
    rewards = [(int(t), int(value)) for t, value in rewards]
    if rewards and not stdp.reward:
        raise ValueError("Reward commands need an engine built with reward = true")
    lo, hi = stdp.reward_range
    for t, value in rewards:
        if not lo <= value <= hi:
            raise ValueError(f"Reward {value} at timestep {t} is out of the range {lo}..{hi} for reward_bits = "
                             f"{stdp.reward_bits}")
    return [[t, value] for t, value in rewards if 0 <= t < steps]


def learned_result(params, spikes, state, weights, trace, steps):
    """``(spikes, state, learned)`` as :func:`simulate_model` returns them; ``trace`` is None unless traced."""
    shape = (params.axons, params.neurons)
    learned = {"weights": np.asarray(weights, dtype=np.int64).reshape(shape)}
    if trace is not None:
        learned["trace"] = np.array(trace, dtype=np.int64).reshape((steps,) + shape)
    return spikes, state, learned


def simulate_model(params, stdp, *, weights=None, events, rewards=(), steps, dump_state=True, trace_weights=False,
                   on_step=None):
    """Run ``steps`` timesteps of ``events`` and ``rewards`` on :class:`StdpModel`.

    Parameters
    ----------
    params : LifParams
    stdp : StdpParams
    weights : array_like, optional
        Integer weights of shape (axons, neurons); zero when omitted.
    events : iterable of (int, int)
        (timestep, axon) input events; those outside ``0 <= t < steps`` are ignored.
    rewards : iterable of (int, int)
        (timestep, value) reward commands, see the module documentation.
    steps : int
    dump_state : bool
        Record ``v`` (and ``u`` for cuba) after every tick.
    trace_weights : bool
        Record the weights after every step (after its rewards).
    on_step : callable, optional
        Called with no arguments after every timestep (e.g. to advance a progress bar).

    Returns
    -------
    spikes : list of (int, int)
        (timestep, neuron), in time then neuron order.
    state : dict
        ``{"v": array (steps, neurons)}`` plus ``"u"`` for cuba; empty without ``dump_state``.
    learned : dict
        ``{"weights": array (axons, neurons)}``, the final weights, plus with ``trace_weights``
        ``"trace"``: array (steps, axons, neurons).
    """
    check_params(params, stdp)
    check_steps(steps)
    by_step = events_by_step(events, steps)
    rewards_by_step = events_by_step(schedule_rewards(stdp, rewards, steps), steps)
    return simulate_model_steps(params, stdp, weights=weights,
                                by_step=((t, by_step[t], rewards_by_step[t]) for t in range(steps)),
                                dump_state=dump_state, trace_weights=trace_weights, on_step=on_step)


def simulate_model_steps(params, stdp, *, weights=None, by_step, dump_state=True, trace_weights=False,
                         on_step=None):
    """:func:`simulate_model` over ``by_step``, ``(t, axons, reward values)`` for t = 0, 1, ... (read a step at
    a time: memory holds one step and the outputs); the same results, the steps being those ``by_step`` gave."""
    check_params(params, stdp)
    model = StdpModel(params, stdp, weights)
    spikes, state, trace = [], {"v": [], "u": []}, []
    steps = 0
    for t, axons, rewards in by_step:
        spikes.extend((t, int(n)) for n in model.step(axons))
        for value in rewards:
            model.reward(value)
        if dump_state:
            state["v"].append(model.v.copy())
            state["u"].append(model.u.copy())
        if trace_weights:
            trace.append(model.weights.copy())
        steps += 1
        if on_step is not None:
            on_step()
    names = ["v", "u"] if params.has_current else ["v"]
    state = {name: np.array(state[name], dtype=np.int64).reshape(steps, params.neurons) for name in names} \
        if dump_state else {}
    return learned_result(params, spikes, state, model.weights.copy(), trace if trace_weights else None, steps)
