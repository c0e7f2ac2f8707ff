"""Random bytes and random mutations of valid files, fed to every reader of user files through the command line:
each run either succeeds or fails with one line and exit code 2, writes nothing, and never shows a traceback."""

import random

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.scripts.cli import main
from test_cli import CONFIG, EXAMPLES


CASES = 60


def mutations(data, rng):
    """Random variants of ``data``: random bytes, truncations, flipped and inserted bytes, repeated lines."""
    yield bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200)))
    for _ in range(CASES - 1):
        choice = rng.randrange(5)
        b = bytearray(data)
        if choice == 0 and b:
            del b[rng.randrange(len(b)):]
        elif choice == 1 and b:
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.getrandbits(8)
        elif choice == 2:
            at = rng.randrange(len(b) + 1)
            b[at:at] = rng.choice([b"\n", b",", b"=", b"[", b"\"", b"-1", b"99999999999", b"\x00", b"\xff", b"1e9"])
        elif choice == 3 and b:
            lines = bytes(b).split(b"\n")
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
            b = bytearray(b"\n".join(lines))
        else:
            b += bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 20)))
        yield bytes(b)


def check(args, tmp_path, case):
    out = tmp_path / f"out{case}"
    result = CliRunner().invoke(main, [str(a) for a in args] + ["-o", str(out)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        message = f"case {case}: {type(result.exception).__name__}: {result.exception}"
        raise AssertionError(message) from result.exception
    assert result.exit_code in (0, 2), (case, result.exit_code, result.output)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (case, result.stderr)
        assert not out.exists(), case


READERS = {
    "config": lambda path: ["generate", path],
    "events": lambda path: ["simulate", EXAMPLES / "lif_core.toml", "--input", path],
    "packets": lambda path: ["simulate", EXAMPLES / "router_table.toml", "--input", path],
    "weights": lambda path: ["simulate", "{config}", "--input", "{events}", "--weights", path],
    "chip spikes": lambda path: ["simulate", EXAMPLES / "chip_2x2.toml", "--input", path],
    "attention q, k, v": lambda path: ["simulate", EXAMPLES / "attention_v1.toml", "--input", path],
    "sweep space": lambda path: ["sweep", path],
}


def valid_file(reader, tmp_path):
    if reader == "config":
        return CONFIG.encode()
    if reader == "events":
        return (EXAMPLES / "events.csv").read_bytes()
    if reader == "packets":
        return (EXAMPLES / "router_table_packets.csv").read_bytes()
    if reader == "weights":
        np.save(tmp_path / "valid.npy", np.zeros((8, 16), dtype=np.int64))
        return (tmp_path / "valid.npy").read_bytes()
    if reader == "chip spikes":
        return (EXAMPLES / "chip_2x2_input.npz").read_bytes()
    if reader == "attention q, k, v":
        from spikeforge.scripts.config import load_config

        p = load_config(EXAMPLES / "attention_v1.toml").blocks["attention"]
        shape = (p.timesteps, p.tokens, p.channels)
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "qkv.npz", **{name: (rng.random(shape) < 0.3).astype(np.uint8) for name in "qkv"})
        return (tmp_path / "qkv.npz").read_bytes()
    (tmp_path / "base.toml").write_text(CONFIG)
    return b'[sweep]\nbase = "base.toml"\n[sweep.parameters]\n"lif_core.lanes" = [1, 2]\n[sweep.workload]\nsteps = 2\n'


@pytest.mark.parametrize("reader", READERS)
def test_mutated_files_fail_in_one_line(reader, tmp_path):
    rng = random.Random(reader)
    (tmp_path / "core.toml").write_text(CONFIG)
    (tmp_path / "events.csv").write_text("t,addr\n0,1\n")
    suffix = {"config": ".toml", "events": ".csv", "packets": ".csv", "weights": ".npy", "chip spikes": ".npz",
              "attention q, k, v": ".npz", "sweep space": ".toml"}[reader]
    for case, data in enumerate(mutations(valid_file(reader, tmp_path), rng)):
        path = tmp_path / f"input{case}{suffix}"
        path.write_bytes(data)
        args = [str(a).format(config=tmp_path / "core.toml", events=tmp_path / "events.csv")
                for a in READERS[reader](path)]
        check(args, tmp_path, case)
