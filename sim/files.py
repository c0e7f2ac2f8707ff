"""Rules every reader of a user's data file follows (events, packets): integers are plain ASCII decimals, and
times are bounded so that no file can ask for unbounded work."""

from __future__ import annotations

import re
import zipfile
import zlib

import numpy as np


__all__ = ["MAX_STEPS", "decimal", "load_npz", "read_spikes"]


#: The most timesteps (LIF events) or cycles (packets) a file may reach: work grows with the latest time.
MAX_STEPS = 1_000_000

_DECIMAL = re.compile(r"[+-]?[0-9]+")


def decimal(cell):
    """The integer a CSV cell writes in ASCII decimal digits; ValueError for anything else (Python's ``int``
    would also take ``1_0`` and non-ASCII digits)."""
    text = cell.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal integer: {cell!r}")
    return int(text)


# What numpy and zipfile raise on a damaged archive (a bad header, an unsupported compression flag, a truncated
# member, a member that is not an array).
_DAMAGED = (ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def load_npz(path, what):
    """Every array of the ``.npz`` file ``path``, ``{name: array}``, read without unpickling; ValueError with one
    line naming the file when it cannot be read or is not such an archive (``what`` says what it should hold)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError
            return {name: archive[name] for name in archive.files}
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror or error})") from None
    except _DAMAGED:
        raise ValueError(f"{path}: not an .npz archive of {what}") from None
    except AttributeError:          # np.load gave a plain array: a .npy file
        raise ValueError(f"{path}: not an .npz archive of {what}") from None


def read_spikes(path, inputs):
    """The input spikes of the ``.npz`` file ``path``: its array ``spikes`` of 0 and 1, ``(batch, steps,
    inputs)`` or ``(steps, inputs)``, as uint8; ValueError with one line naming the file otherwise."""
    arrays = load_npz(path, "input spikes")
    if "spikes" not in arrays:
        raise ValueError(f"{path}: no array 'spikes' (it has {', '.join(sorted(arrays)) or 'none'})")
    spikes = arrays["spikes"]
    if spikes.ndim not in (2, 3) or spikes.shape[-1] != inputs or 0 in spikes.shape[:-1]:
        raise ValueError(f"{path}: 'spikes' must be (batch, steps, {inputs}) or (steps, {inputs}) with at least "
                         f"one step, not {spikes.shape}")
    if spikes.shape[-2] > MAX_STEPS:
        raise ValueError(f"{path}: 'spikes' has {spikes.shape[-2]} steps, more than {MAX_STEPS}")
    if spikes.dtype.kind not in "biuf" or not np.all((spikes == 0) | (spikes == 1)):
        raise ValueError(f"{path}: 'spikes' must hold only 0 and 1")
    return spikes.astype(np.uint8)
