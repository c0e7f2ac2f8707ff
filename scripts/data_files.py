"""The data files of the command line: event and spike lists (CSV), weight matrices (.npy), state dumps (.npz).

An event or spike file is a CSV file with the header ``t,addr`` and one ``timestep,address`` row per event:
the address is an axon for input events and a neuron for output spikes. An input file for a learning core with
reward-modulated STDP may add a ``value`` column (header ``t,addr,value``) for reward rows ``t,reward,value``
(see :func:`read_events`). Readers check every row and raise :class:`DataFileError` with one line naming the
file, the line and the rule broken.
"""

import array
import contextlib
import csv
import json

import numpy as np

from spikeforge.sim.files import MAX_STEPS, decimal


__all__ = ["DataFileError", "OutOfOrder", "SpikeWriter", "read_event_steps", "read_events", "read_weights",
           "write_cycles", "write_spikes", "write_state"]

EVENT_HEADER = ("t", "addr")
INPUT_HEADER = ("t", "addr", "value")
REWARD = "reward"


class DataFileError(Exception):
    """A problem with a data file, described in one line."""


def read_events(path, *, axons, steps=None, reward_bits=None):
    """Read input events of ``axons`` axons, and reward commands, from a CSV file.

    The header is ``t,addr`` (events only) or ``t,addr,value``. An event row is ``t,axon`` (``t,axon,`` with an
    empty value is the same); a reward row is ``t,reward,value``: a reward command of the signed integer
    ``value``, for a learning core with reward-modulated STDP, delivered after the tick of step ``t``. Rewards of
    one step keep their file order.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    axons : int
        Number of axons; an address must be in 0..axons-1.
    steps : int or None
        Number of timesteps to run; a time must be in 0..steps-1. None: any time >= 0.
    reward_bits : int or None
        Width of a reward value (``[stdp] reward_bits``); None when the core takes no rewards (a reward row is
        then an error).

    The file is read row by row and every row checked as it is read, so the first bad row is reported without
    reading the rest; the events are kept in 16 bytes each, not as Python objects.

    Returns
    -------
    events : numpy.ndarray
        ``(t, axon)`` events, in file order, int64 of shape (events, 2).
    rewards : list of (int, int)
        ``(t, value)`` reward commands, in file order.

    Raises
    ------
    DataFileError
        If the file cannot be read, the header is neither ``t,addr`` nor ``t,addr,value``, or a row is not an
        event or reward in range.
    """
    events, rewards = array.array("q"), []       # events: t, axon, t, axon...
    with _event_rows(path, axons, steps, reward_bits) as rows:
        for t, axon, value in rows:
            if axon is None:
                rewards.append((t, value))
            else:
                events.extend((t, axon))
    return np.frombuffer(events, dtype=np.int64).reshape(-1, 2), rewards


class OutOfOrder(Exception):
    """An events file whose rows go back in time, which :func:`read_event_steps` cannot stream."""


def read_event_steps(path, *, axons, steps=None, reward_bits=None):
    """The rows of an events file in time order, a timestep at a time, as they are read: ``(t, axons,
    rewards)`` for every t from 0 to the last row's (to ``steps - 1`` when given), ``axons`` the step's events
    and ``rewards`` its reward values, in file order. Memory holds one timestep, whatever the file's size.

    The file and its rows are checked as :func:`read_events` checks them (DataFileError, when the bad row is
    read); a row earlier than the one before it raises :class:`OutOfOrder` (read such a file with
    :func:`read_events`, which sorts).
    """
    with _event_rows(path, axons, steps, reward_bits) as rows:
        t, axons_now, rewards_now = 0, [], []
        for row_t, axon, value in rows:
            if row_t < t:
                raise OutOfOrder(f"{path}: time {row_t} comes after time {t}")
            while t < row_t:
                yield t, axons_now, rewards_now
                t, axons_now, rewards_now = t + 1, [], []
            if axon is None:
                rewards_now.append(value)
            else:
                axons_now.append(axon)
        if axons_now or rewards_now:
            yield t, axons_now, rewards_now
            t += 1
        for t in range(t, steps or 0):
            yield t, [], []


@contextlib.contextmanager
def _event_rows(path, axons, steps, reward_bits):
    """The checked rows of an events file, ``(t, axon, None)`` for an event and ``(t, None, value)`` for a
    reward, in file order."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            yield _checked_rows(path, csv.reader(file), axons, steps, reward_bits)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not a UTF-8 text file") from None


def _checked_rows(path, rows, axons, steps, reward_bits):
    header = next(rows, None)
    header = tuple(cell.strip() for cell in header) if header is not None else None
    if header not in (EVENT_HEADER, INPUT_HEADER):
        found = ",".join(header) if header else "an empty file"
        raise DataFileError(f"{path} line 1: expected the header 't,addr' or 't,addr,value', found {found!r}")
    for row in rows:
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{path} line {rows.line_num}"
        cells = [cell.strip() for cell in row]
        if len(cells) not in (2, len(header)):
            expected = "two integers 't,addr'" if len(header) == 2 else \
                "an event 't,axon' or a reward 't,reward,value'"
            raise DataFileError(f"{where}: expected {expected}, found {','.join(row)!r}")
        if cells[1] == REWARD:
            t, value = _reward_row(where, cells, header, reward_bits)
            yield _check_time(where, t, steps), None, value
        else:
            if len(cells) == 3 and cells[2]:
                raise DataFileError(f"{where}: only a reward row (addr 'reward') has a value; found "
                                    f"{','.join(row)!r}")
            t, axon = _integers(where, cells[:2], "two integers 't,addr'", row)
            if not 0 <= axon < axons:
                raise DataFileError(f"{where}: axon {axon} is out of range 0..{axons - 1}")
            yield _check_time(where, t, steps), axon, None


def _integers(where, cells, expected, row):
    try:
        return [decimal(cell) for cell in cells]
    except ValueError:
        raise DataFileError(f"{where}: expected {expected}, found {','.join(row)!r}") from None


def _reward_row(where, cells, header, reward_bits):
    if len(header) == 2:
        raise DataFileError(f"{where}: a reward row needs the value column (header 't,addr,value')")
    if len(cells) == 2:
        raise DataFileError(f"{where}: a reward row needs a value, 't,reward,value'")
    t, value = _integers(where, [cells[0], cells[2]], "'t,reward,value' with integers t and value", cells)
    if reward_bits is None:
        raise DataFileError(f"{where}: a reward row needs a learning core with reward-modulated STDP "
                            f"([stdp] reward = true)")
    lo, hi = -(1 << (reward_bits - 1)), (1 << (reward_bits - 1)) - 1
    if not lo <= value <= hi:
        raise DataFileError(f"{where}: reward {value} is out of range {lo}..{hi} for reward_bits = {reward_bits}")
    return t, value


def _check_time(where, t, steps):
    if t < 0:
        raise DataFileError(f"{where}: time {t} is negative")
    if t >= MAX_STEPS:
        raise DataFileError(f"{where}: time {t} is beyond the limit of {MAX_STEPS} timesteps")
    if steps is not None and t >= steps:
        raise DataFileError(f"{where}: time {t} is out of range 0..{steps - 1} for {steps} steps")
    return t


def read_weights(path, params):
    """Read an integer weight matrix of shape (axons, neurons) from a ``.npy`` file and check its values.

    Raises
    ------
    DataFileError
        If the file is not a ``.npy`` array, or the array has the wrong shape, type or a value out of range.
    """
    try:
        with open(path, "rb") as file:
            magic = file.read(6)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic.startswith(b"PK"):
        raise DataFileError(f"{path}: expected a .npy array, found a .npz archive")
    if magic != b"\x93NUMPY":
        raise DataFileError(f"{path}: not a NumPy .npy array ({'an empty file' if not magic else 'no .npy header'})")
    try:
        weights = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise DataFileError(f"{path}: a damaged .npy array ({exc})") from None
    expected = (params.axons, params.neurons)
    if weights.shape != expected:
        raise DataFileError(f"{path}: weights must have shape (axons, neurons) = {expected}, "
                            f"not {weights.shape}")
    if not np.issubdtype(weights.dtype, np.integer):
        raise DataFileError(f"{path}: weights must be integers, not {weights.dtype}")
    lo, hi = params.weight_range
    bad = np.argwhere((weights < lo) | (weights > hi))
    if bad.size:
        axon, neuron = (int(i) for i in bad[0])
        raise DataFileError(f"{path}: weight {int(weights[axon, neuron])} of axon {axon} to neuron {neuron} "
                            f"is out of range {lo}..{hi} for weight_bits = {params.weight_bits}")
    return weights.astype(np.int64)


def write_spikes(path, spikes):
    """Write ``(t, neuron)`` spikes, sorted by time then neuron, as a ``t,addr`` CSV file."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(EVENT_HEADER)
        writer.writerows(sorted((int(t), int(n)) for t, n in spikes))


class SpikeWriter:
    """Spikes written to a ``t,addr`` CSV file a timestep at a time, in time order (as :func:`write_spikes`
    writes them); ``count`` is the number written."""

    def __init__(self, file):
        self._writer = csv.writer(file, lineterminator="\n")
        self._writer.writerow(EVENT_HEADER)
        self.count = 0

    def write(self, t, neurons):
        """The spikes of timestep ``t`` (later than any written before)."""
        neurons = sorted(int(n) for n in neurons)
        self._writer.writerows((t, n) for n in neurons)
        self.count += len(neurons)


def write_state(path, state):
    """Write a state dump: arrays such as ``v`` and ``u`` of shape (steps, neurons)."""
    np.savez(path, **{name: np.asarray(value) for name, value in state.items()})


def write_cycles(path, total, **parts):
    """Write an RTL run's cycles.json: ``{"total": N}`` and the parts given, e.g. ``per_step=[...]`` (nested lists
    for a batch of samples) or ``per_call=[...]``."""
    cycles = {"total": int(total), **{name: np.asarray(value).tolist() for name, value in parts.items()}}
    with open(path, "w", encoding="utf-8") as file:
        file.write(json.dumps(cycles) + "\n")
