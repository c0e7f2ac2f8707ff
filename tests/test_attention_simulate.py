"""The ``simulate`` entry point of the attention unit: reading QKV.npz and the back ends."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.scripts.cli import main
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
    o, per_call = simulate(PARAMS, *read_qkv(path, PARAMS), "model")
    assert per_call is None
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
def test_simulate_on_icarus_writes_the_cycles_of_every_call(tmp_path):
    # Through the command line: out.npz equals the model, cycles.json holds each of the two calls' cycles.
    q, k, v = count_qkv(PARAMS, np.random.default_rng(1), calls=2)
    np.savez(tmp_path / "qkv.npz", q=q, k=k, v=v)
    table = "\n".join(f"{key} = {value!r}".replace("'", '"') for key, value in PARAMS.to_dict().items()
                      if key != "frac_bits")
    (tmp_path / "attention.toml").write_text(f"[attention]\n{table}\n")
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "attention.toml"), "--input",
                                       str(tmp_path / "qkv.npz"), "--backend", "icarus", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "out.npz")["o"], run_model(PARAMS, q, k, v))
    cycles = json.loads((tmp_path / "out" / "cycles.json").read_text())
    assert sorted(cycles) == ["per_call", "total"] and len(cycles["per_call"]) == 2
    assert sum(cycles["per_call"]) == cycles["total"] and min(cycles["per_call"]) > PARAMS.tokens
