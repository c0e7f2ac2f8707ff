"""The ``simulate`` command's side of the attention unit: read QKV.npz, compute O on the golden model or the RTL.

QKV.npz holds arrays ``q``, ``k`` and ``v`` of shape (timesteps, tokens, channels) with spikes 0 or 1 (several
calls may follow one another: a leading size that is a multiple of ``timesteps``); the output file holds ``o``
of the same shape, uint8.
"""

from __future__ import annotations

from spikeforge.sim.attention.model import check_spikes, run_model
from spikeforge.sim.files import load_npz


__all__ = ["BACKENDS", "read_qkv", "simulate"]


BACKENDS = ("model", "icarus", "verilator")


def read_qkv(path, params):
    """Read Q, K and V for ``params`` from the .npz file ``path``.

    Returns
    -------
    (q, k, v) : uint8 arrays

    Raises
    ------
    ValueError
        With one line naming the file and the problem: unreadable, not an .npz archive, an array missing, or
        an array of the wrong shape or values.
    """
    archive = load_npz(path, "arrays q, k and v")
    missing = [name for name in "qkv" if name not in archive]
    if missing:
        raise ValueError(f"{path}: no array '{missing[0]}'; the file must hold q, k and v")
    try:
        arrays = [check_spikes(name, archive[name], params, calls=True) for name in "qkv"]
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{path}: q, k and v must have the same shape, not {', '.join(map(str, shapes))}")
    return tuple(arrays)


def simulate(params, q, k, v, backend, build_dir=None):
    """O of spike-driven self-attention for binary Q, K, V of shape (timesteps, tokens, channels).

    Several calls may be given back to back (a leading size that is a multiple of ``timesteps``).

    Parameters
    ----------
    params : AttentionParams
    q, k, v : array_like
        Spikes 0 or 1.
    backend : str
        ``"model"`` (the golden model), ``"icarus"`` or ``"verilator"`` (the generated Verilog in cocotb).
    build_dir : path-like
        Build directory of the simulator; required for the RTL back ends.

    Returns
    -------
    o : numpy.ndarray
        O, uint8 of the shape of ``q``.
    per_call : list of int or None
        The RTL back ends: the cycles of each call (:func:`spikeforge.sim.attention.rtl.run_rtl`); the golden
        model: None.

    Raises
    ------
    ValueError
        If an array has the wrong shape or values, or the back end is unknown.
    RuntimeError
        If the RTL simulation fails.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    q, k, v = (check_spikes(name, a, params, calls=True) for name, a in (("q", q), ("k", k), ("v", v)))
    if backend == "model":
        return run_model(params, q, k, v), None
    if build_dir is None:
        raise ValueError(f"Backend {backend!r} needs a build directory")
    from spikeforge.sim.attention.rtl import run_rtl

    o, _, per_call = run_rtl(params, q, k, v, sim=backend, build_dir=build_dir)
    return o, per_call
