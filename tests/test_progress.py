"""Progress off a terminal (a pipe, a CI log): a line every few seconds, so a long command is seen to be alive."""

import re
import threading

from click.testing import CliRunner

from spikeforge.scripts import progress
from spikeforge.scripts.cli import main


CONFIG = "[lif_core]\nneurons = 4\naxons = 4\nlanes = 1\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_simulate_prints_a_progress_line_every_interval(tmp_path, monkeypatch):
    seconds = iter(range(10 ** 6))            # a clock that advances one second each time it is read
    monkeypatch.setattr(progress, "_clock", lambda: next(seconds))
    (tmp_path / "core.toml").write_text(CONFIG)
    (tmp_path / "events.csv").write_text("t,addr\n0,1\n")
    result = run("simulate", tmp_path / "core.toml", "--input", tmp_path / "events.csv", "--steps", 40,
                 "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    done = [int(n) for n in re.findall(r"^spikeforge: simulating: (\d+) of 40 timesteps$", result.stderr, re.M)]
    assert len(done) >= 3 and done == sorted(done) and done[-1] <= 40, result.stderr


def test_verify_prints_that_it_is_still_running(tmp_path, monkeypatch, stand_in):
    beat = threading.Event()
    line = progress._line

    def record(message):
        line(message)
        beat.set()

    def verify(params, *, sim, steps, seed, build_dir):
        return beat.wait(5), "PASS"

    monkeypatch.setattr(progress, "_line", record)
    monkeypatch.setattr(progress, "INTERVAL", 0.01)
    stand_in("spikeforge.sim.lif_core.verify", verify=verify)
    (tmp_path / "core.toml").write_text(CONFIG)
    result = run("verify", tmp_path / "core.toml")
    assert result.exit_code == 0, result.output
    assert re.search(r"^spikeforge: verifying, \d+ s so far$", result.stderr, re.M), result.stderr
