"""Running inputs on a board: a LIF core's timesteps of events (and a learning core's rewards), a chip's samples
of input spikes, as ``simulate`` runs them on the golden model (the same inputs, the same outputs). Pure
Python."""

from __future__ import annotations

import numpy as np

from spikeforge.sim.chip.load import load_commands, rest_commands
from spikeforge.sim.lif_core.fields import NEURON_FIELDS, state_names
from spikeforge.sim.stdp.rest import rest_writes

from .link import LinkError


__all__ = ["open_serial", "run_lif_core", "run_learning_core", "run_chip"]


def open_serial(device, baud):
    """The serial port ``device`` at ``baud``, its ``read`` returning what has arrived; LinkError (one line)
    when it cannot be opened."""
    import serial

    class _Port(serial.Serial):
        def read(self, size=1):
            return super().read(max(1, min(size, self.in_waiting)))

    try:
        return _Port(device, baud, timeout=0.05)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LinkError(f"{device}: cannot open the serial port ({exc})") from None


def _write(field, **address):
    return {"op": "WRITE", "field": field, "axon": 0, "neuron": 0, "data": 0, **address}


def _load_core(board, params, weights, stdp=None):
    """Write ``weights`` (zeros when None) and a zero neuron state, and with ``stdp`` a fresh learning state."""
    w = np.zeros((params.axons, params.neurons), dtype=np.int64) if weights is None else np.asarray(weights)
    commands = [_write("WEIGHT", axon=a, neuron=n, data=int(w[a, n]))
                for a in range(params.axons) for n in range(params.neurons)]
    commands += [_write(NEURON_FIELDS[name], neuron=n) for name in ("acc", *state_names(params))
                 for n in range(params.neurons)]
    if stdp is not None:
        commands += [{"op": "WRITE", **write} for write in rest_writes(params, stdp)]
    board.configure(commands)


def run_lif_core(board, params, weights, events_by_step):
    """Load ``weights`` (zeros when None) and a zero state, run the timesteps; returns the (t, neuron) spikes."""
    _load_core(board, params, weights)
    return [(t, n) for t, axons in enumerate(events_by_step) for n in board.step(axons)]


def run_learning_core(board, params, stdp, weights, events_by_step, rewards_by_step, *, read_weights=False):
    """A learning core as :func:`spikeforge.sim.stdp.simulate.simulate_model` runs it: load ``weights`` and a
    fresh state, then each timestep's events, its tick and after it that step's rewards. Returns the (t,
    neuron) spikes and, with ``read_weights``, the weights it learned, read back (array (axons, neurons)), else
    None."""
    _load_core(board, params, weights, stdp)
    spikes = []
    for t, axons in enumerate(events_by_step):
        spikes += [(t, n) for n in board.step(axons)]
        for value in rewards_by_step[t]:
            board.reward(value)
    if not read_weights:
        return spikes, None
    cells = [(a, n) for a in range(params.axons) for n in range(params.neurons)]
    values = board.configure([{"op": "READ", "field": "WEIGHT", "axon": a, "neuron": n, "data": 0}
                              for a, n in cells])
    return spikes, np.array(values, dtype=np.int64).reshape(params.axons, params.neurons)


def run_chip(board, params, weights, spikes, on_step=None):
    """Load the network once, then every sample from a rested chip; returns the output spikes as
    :func:`spikeforge.sim.chip.model.run_chip` does (uint8, (batch, steps, outputs) or (steps, outputs))."""
    spikes = np.asarray(spikes)
    batch = spikes[None] if spikes.ndim == 2 else spikes
    out = np.zeros((batch.shape[0], batch.shape[1], params.output_count), dtype=np.uint8)
    board.configure(load_commands(params, weights))
    for b, sample in enumerate(batch):
        board.configure(rest_commands(params))
        for t, row in enumerate(sample):
            out[b, t, board.step(np.flatnonzero(row))] = 1
            if on_step is not None:
                on_step()
    return out[0] if spikes.ndim == 2 else out
