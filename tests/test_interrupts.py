"""A command stopped by SIGTERM cleans up as after Ctrl-C: its simulator is stopped, its staging and temporary
build directories are removed, and it says so in one line."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikeforge.scripts.interrupts import descendants


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_descendants_finds_the_children_of_a_process():
    proc = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                             "subprocess.run(['sleep', '30'])"])
    try:
        deadline = time.monotonic() + 10
        while not descendants(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        found = descendants(os.getpid())
        assert proc.pid in found and set(descendants(proc.pid)) <= set(found)
        assert len(descendants(proc.pid)) == 1
    finally:
        for pid in [*descendants(proc.pid), proc.pid]:
            os.kill(pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.cocotb
def test_sigterm_during_an_rtl_simulation(tmp_path, icarus):
    events = tmp_path / "events.csv"
    events.write_text("t,addr\n" + "".join(f"{t},{t % 256}\n" for t in range(400)))
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "from spikeforge.scripts.cli import main; main()", "simulate",
                             str(EXAMPLES / "lif_core.toml"), "--input", str(events), "--backend", icarus,
                             "-o", str(tmp_path / "out")], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        names = [Path(f"/proc/{pid}/comm").read_text().strip() for pid in descendants(proc.pid)
                 if Path(f"/proc/{pid}/comm").exists()]
        if "vvp" in names:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the simulator never started")
    children = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1] == "Error: interrupted; the outputs were not written"
    time.sleep(0.5)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()
                and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"], "a simulator process is left"
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.staging-*")) and not list((tmp_path / "tmp").iterdir())
