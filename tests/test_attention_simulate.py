"""The ``simulate`` entry point of the attention unit: reading QKV.npz and the back ends."""

import re

import numpy as np
import pytest

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.sim.attention.model import run_model
from spikeforge.sim.attention.simulate import read_qkv, simulate
from spikeforge.sim.attention.stimulus import count_qkv


PARAMS = AttentionParams.create(variant="v2", tokens=4, channels=8, heads=2, timesteps=2, lanes=2,
                                threshold=0.375)


def spikes(shape, value=0):
    return np.full(shape, value, dtype=np.uint8)


def test_read_and_simulate_on_the_model(tmp_path):
    q, k, v = count_qkv(PARAMS, np.random.default_rng(0), calls=2)
    path = tmp_path / "qkv.npz"
    np.savez(path, q=q, k=k, v=v)
    o = simulate(PARAMS, *read_qkv(path, PARAMS), "model")
    assert o.dtype == np.uint8 and o.shape == (4, 4, 8)
    np.testing.assert_array_equal(o, run_model(PARAMS, q, k, v))


@pytest.mark.parametrize("arrays, message", [
    ({"q": spikes((2, 4, 8))}, "no array 'k'; the file must hold q, k and v"),
    ({"q": spikes((2, 4, 8)), "k": spikes((2, 4, 7)), "v": spikes((2, 4, 8))},
     "'k' must have shape (timesteps, tokens, channels) = (2, 4, 8), not (2, 4, 7)"),
    ({"q": spikes((2, 4, 8)), "k": spikes((4, 4, 8)), "v": spikes((2, 4, 8))},
     "q, k and v must have the same shape, not (4, 4, 8), (2, 4, 8)"),
    ({"q": spikes((3, 4, 8)), "k": spikes((3, 4, 8)), "v": spikes((3, 4, 8))},
     "'q' must hold a positive multiple of 2 timesteps, not 3"),
    ({"q": spikes((2, 4, 8), 2), "k": spikes((2, 4, 8)), "v": spikes((2, 4, 8))},
     "'q' must hold spikes 0 or 1; found 2..2"),
])
def test_bad_input_files_are_named(tmp_path, arrays, message):
    path = tmp_path / "qkv.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}$"):
        read_qkv(path, PARAMS)


def test_unreadable_files(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(missing))}: cannot read \(No such file"):
        read_qkv(missing, PARAMS)
    text = tmp_path / "text.npz"
    text.write_text("q,k,v\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(text))}: not an .npz archive of arrays q, k and v$"):
        read_qkv(text, PARAMS)


def test_bad_backend():
    with pytest.raises(ValueError, match=r"^Backend must be one of model, icarus, verilator, not 'ghdl'$"):
        simulate(PARAMS, spikes((2, 4, 8)), spikes((2, 4, 8)), spikes((2, 4, 8)), "ghdl")
    with pytest.raises(ValueError, match=r"^Backend 'icarus' needs a build directory$"):
        simulate(PARAMS, spikes((2, 4, 8)), spikes((2, 4, 8)), spikes((2, 4, 8)), "icarus")


@pytest.mark.cocotb
def test_simulate_on_icarus(tmp_path):
    q, k, v = count_qkv(PARAMS, np.random.default_rng(1), calls=2)
    o = simulate(PARAMS, q, k, v, "icarus", tmp_path)
    np.testing.assert_array_equal(o, run_model(PARAMS, q, k, v))
