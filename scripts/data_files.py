"""The data files of the command line: event and spike lists (CSV), weight matrices (.npy), state dumps (.npz).

An event or spike file is a CSV file with the header ``t,addr`` and one ``timestep,address`` row per event:
the address is an axon for input events and a neuron for output spikes. Readers check every row and raise
:class:`DataFileError` with one line naming the file, the line and the rule broken.
"""

import csv
import io

import numpy as np


__all__ = ["DataFileError", "read_events", "read_weights", "write_spikes", "write_state"]

EVENT_HEADER = ("t", "addr")


class DataFileError(Exception):
    """A problem with a data file, described in one line."""


def read_events(path, *, axons, steps=None):
    """Read input events of ``axons`` axons from a ``t,addr`` CSV file.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    axons : int
        Number of axons; an address must be in 0..axons-1.
    steps : int or None
        Number of timesteps to run; a time must be in 0..steps-1. None: any time >= 0.

    Returns
    -------
    list of (int, int)
        ``(t, axon)`` events, in file order.

    Raises
    ------
    DataFileError
        If the file cannot be read, the header is not ``t,addr``, or a row is not two integers in range.
    """
    try:
        with open(path, newline="", encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not a UTF-8 text file") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or tuple(cell.strip() for cell in header) != EVENT_HEADER:
        found = ",".join(header) if header else "an empty file"
        raise DataFileError(f"{path} line 1: expected the header 't,addr', found {found!r}")
    events = []
    for row in rows:
        line = rows.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            t, addr = (int(cell) for cell in row)
        except ValueError:
            raise DataFileError(f"{path} line {line}: expected two integers 't,addr', found "
                                f"{','.join(row)!r}") from None
        if t < 0:
            raise DataFileError(f"{path} line {line}: time {t} is negative")
        if steps is not None and t >= steps:
            raise DataFileError(f"{path} line {line}: time {t} is out of range 0..{steps - 1} "
                                f"for {steps} steps")
        if not 0 <= addr < axons:
            raise DataFileError(f"{path} line {line}: axon {addr} is out of range 0..{axons - 1}")
        events.append((t, addr))
    return events


def read_weights(path, params):
    """Read an integer weight matrix of shape (axons, neurons) from a ``.npy`` file and check its values.

    Raises
    ------
    DataFileError
        If the file is not a ``.npy`` array, or the array has the wrong shape, type or a value out of range.
    """
    try:
        weights = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DataFileError(f"{path}: not a NumPy .npy array ({exc})") from None
    if not isinstance(weights, np.ndarray):
        raise DataFileError(f"{path}: expected a .npy array, found a .npz archive")
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


def write_state(path, state):
    """Write a state dump: arrays such as ``v`` and ``u`` of shape (steps, neurons)."""
    np.savez(path, **{name: np.asarray(value) for name, value in state.items()})
