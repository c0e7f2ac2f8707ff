"""Architecture sweeps end to end on tiny configurations: results, cache hits, resume after a kill, failing
points, the Pareto front and the Dask executor."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from spikeforge.scripts.cli import main
from spikeforge.scripts.errors import ConfigError
from spikeforge.scripts.sweep.pareto import pareto_front
from spikeforge.scripts.sweep.run import run_sweep
from spikeforge.scripts.sweep.space import load_space


BASE = """\
[lif_core]
neurons = 8
axons = 8
lanes = 2
threshold = 20
"""


def write_space(tmp_path, parameters, *, boards="[]", mode="grid", extra="", steps=8):
    (tmp_path / "base.toml").write_text(BASE)
    space = tmp_path / "space.toml"
    space.write_text(f"""\
[sweep]
base = "base.toml"
mode = "{mode}"
boards = {boards}
[sweep.parameters]
{parameters}
[sweep.workload]
steps = {steps}
activity = 0.3
[sweep.optimize]
objectives = {{ energy_per_synop_pj = "minimize", synops_per_cycle = "maximize" }}
{extra}
""")
    return space


def read_rows(out):
    with open(out / "results.csv") as f:
        return list(csv.DictReader(f))


def test_grid_sweep_writes_every_point_and_records_failures(tmp_path):
    space = write_space(tmp_path, '"lif_core.neurons" = [8, 16]\n"lif_core.lanes" = [1, 2, 3]')
    result = CliRunner().invoke(main, ["sweep", str(space), "-o", str(tmp_path / "out"), "-j", "2"])
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "out")
    assert [(r["lif_core.neurons"], r["lif_core.lanes"]) for r in rows] == [
        ("8", "1"), ("8", "2"), ("8", "3"), ("16", "1"), ("16", "2"), ("16", "3")]
    bad = [r for r in rows if r["lif_core.lanes"] == "3"]
    assert all(r["status"] == "invalid" and "must be a power of two" in r["error"] for r in bad)
    good = [r for r in rows if r["status"] == "ok"]
    assert len(good) == 4 and all(float(r["synops_per_cycle"]) > 0 for r in good)
    # More lanes, more synaptic operations per cycle.
    by_lanes = {(r["lif_core.neurons"], r["lif_core.lanes"]): float(r["synops_per_cycle"]) for r in good}
    assert by_lanes["16", "2"] > by_lanes["16", "1"]
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 6
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert "6 points (6 computed, 0 from the cache): 2 invalid, 4 ok" in result.output
    assert "Pareto front" in result.output


def test_rerun_and_widened_sweep_compute_only_new_points(tmp_path):
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]')
    _, _, first = run_sweep(load_space(space), tmp_path / "out")
    assert first.computed == 2
    _, _, again = run_sweep(load_space(space), tmp_path / "out")
    assert again.computed == 0
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2, 4, 8]')
    rows, _, wider = run_sweep(load_space(space), tmp_path / "out")
    assert wider.computed == 2 and len(rows) == 4


def test_a_killed_sweep_resumes_without_redoing_finished_points(tmp_path):
    values = ", ".join(str(v) for v in range(8, 8 + 2 * 6, 2))
    # A long workload makes each point take a fraction of a second.
    space = write_space(tmp_path, f'"lif_core.axons" = [{values}]', steps=6000)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", "from spikeforge.scripts.cli import main; main()", "sweep",
                             str(space), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cache = out / "cache"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.json")}
    assert 2 <= len(done) < 6, "the sweep should have been killed part way"
    assert not (out / "results.csv").exists()
    rows, _, resumed = run_sweep(load_space(space), out, resume=True)
    assert resumed.computed == 6 - len(done)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    assert all((cache / name).stat().st_mtime_ns == mtime for name, mtime in done.items())


def test_optimize_mode_respects_the_budget_and_resumes(tmp_path):
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2, 4, 8]\n"lif_core.neurons" = [8, 16, 32]',
                        mode="optimize", extra="trials = 6\nseed = 3\nconstraints = [\"fits\"]")
    rows, front, _ = run_sweep(load_space(space), tmp_path / "out", jobs=2)
    assert len(rows) == 6
    assert front and all(r["status"] == "ok" for r in front)
    text = space.read_text().replace("trials = 6", "trials = 9")
    space.write_text(text)
    rows, _, resumed = run_sweep(load_space(space), tmp_path / "out", jobs=2, resume=True)
    assert len(rows) == 9
    assert resumed.computed <= 3


def test_pareto_front_keeps_only_non_dominated_points():
    rows = [{"key": k, "status": "ok", "a": a, "b": b} for k, a, b in
            [("p", 1, 1), ("q", 2, 3), ("r", 3, 2), ("s", 2, 2), ("t", 1, 2)]]
    front = pareto_front(rows, {"a": "minimize", "b": "maximize"})
    assert [r["key"] for r in front] == ["t", "q"]


@pytest.mark.build
def test_sweep_with_board_builds_reports_resources(tmp_path):
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]', boards='["icebreaker"]')
    rows, _, _ = run_sweep(load_space(space), tmp_path / "out", jobs=2)
    for row in rows:
        assert row["status"] == "ok", row.get("error")
        assert row["logic_cells"] > 50 and row["fmax_mhz"] > 10
        assert row["synops_per_s"] == pytest.approx(row["synops_per_cycle"] * row["fmax_mhz"] * 1e6)
    assert rows[1]["logic_cells"] > rows[0]["logic_cells"]


def test_dask_local_cluster_runs_the_same_points(tmp_path):
    from distributed import LocalCluster

    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2, 4]')
    local, _, _ = run_sweep(load_space(space), tmp_path / "local")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        result = CliRunner().invoke(main, ["sweep", str(space), "-o", str(tmp_path / "dask"),
                                           "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert "Dask cluster tcp://" in result.output
    dask = read_rows(tmp_path / "dask")
    assert [r["key"] for r in dask] == [r["key"] for r in local]
    assert [float(r["synops_per_cycle"]) for r in dask] == [r["synops_per_cycle"] for r in local]


def test_bad_space_file_is_one_line_and_exit_code_2(tmp_path):
    space = write_space(tmp_path, '"lif_core.bogus" = [1, 2]')
    result = CliRunner().invoke(main, ["sweep", str(space), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "unknown parameter 'lif_core.bogus'" in result.output
    assert not (tmp_path / "out").exists()


def test_sweep_of_the_learning_engine_builds_and_counts_learning(tmp_path):
    """stdp.* keys reach the point: the learning core is built and its workload runs on the STDP model."""
    space = write_space(tmp_path, '"stdp.enabled" = [false, true]\n"stdp.a_plus" = [16]', boards='["icebreaker"]',
                        steps=10)
    rows, _, _ = run_sweep(load_space(space), tmp_path / "out", jobs=2)
    assert [r["status"] for r in rows] == ["ok", "ok"], [r.get("error") for r in rows]
    inference, learning = rows
    assert learning["logic_cells"] > inference["logic_cells"]
    assert learning["cycles_per_step"] > inference["cycles_per_step"] + 8   # the trace and potentiation passes
    assert learning["energy_nj"] > inference["energy_nj"]                   # weight write-backs
    report = json.loads((tmp_path / "out" / "builds" / learning["key"] / "icebreaker" / "report.json").read_text())
    assert report["parameters"]["stdp"]["a_plus"] == 16 and report["parameters"]["stdp"]["enabled"]


def test_learning_points_refuse_rtl_cycles(tmp_path):
    space = write_space(tmp_path, '"stdp.enabled" = [true]', extra="")
    text = space.read_text().replace('activity = 0.3', 'activity = 0.3\nrtl = "icarus"')
    space.write_text(text)
    rows, _, _ = run_sweep(load_space(space), tmp_path / "out")
    assert rows[0]["status"] == "invalid" and "inference cores only" in rows[0]["error"]


def test_parameters_of_another_block_than_the_base_are_refused(tmp_path):
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]')
    (tmp_path / "base.toml").write_text((Path(__file__).parent.parent / "examples" / "router_table.toml").read_text())
    result = CliRunner().invoke(main, ["sweep", str(space), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "unknown parameter 'lif_core.lanes'; write table.key for [router], e.g. router." in result.output
    assert not (tmp_path / "out").exists()


def test_a_point_whose_tool_was_killed_is_not_cached(tmp_path, monkeypatch):
    """A build killed by a signal says nothing about the point: recorded as interrupted, computed again next run."""
    fake = tmp_path / "yosys"
    fake.write_text('#!/bin/sh\ncase "$1" in -V) echo "Yosys 0.40 (git sha1 0123abc)"; exit 0;; esac\nkill -KILL $$\n')
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]', boards='["icebreaker"]')
    for _ in range(2):
        rows, _, sweep = run_sweep(load_space(space), tmp_path / "out")
        assert [r["status"] for r in rows] == ["interrupted", "interrupted"]
        assert "killed by signal 9" in rows[0]["error"]
        assert sweep.computed == 2


@pytest.mark.parametrize("name, points, board", [("sweep_lif.toml", 12, "icebreaker"),
                                                  ("optimize_lif.toml", None, "icebreaker"),
                                                  ("sweep_router.toml", 4, "ulx3s-85f")])
def test_the_shipped_example_spaces_are_valid(name, points, board):
    from spikeforge.scripts.sweep.space import grid_points
    space = load_space(Path(__file__).parent.parent / "examples" / name)
    assert space.boards == (board,)
    if points:
        assert len(grid_points(space)) == points
    else:
        assert space.mode == "optimize" and space.trials >= 12


def test_rtl_workload_measures_cycles_on_the_rtl(tmp_path):
    """rtl = "icarus": the cycles come from the RTL, close to the estimate, and its spikes equal the model's."""
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]', steps=6)
    (tmp_path / "rtl.toml").write_text(space.read_text().replace('activity = 0.3', 'activity = 0.3\nrtl = "icarus"'))
    estimated, _, _ = run_sweep(load_space(space), tmp_path / "estimate")
    measured, _, _ = run_sweep(load_space(tmp_path / "rtl.toml"), tmp_path / "rtl")
    for est, rtl in zip(estimated, measured):
        assert rtl["status"] == "ok", rtl.get("error")
        assert rtl["cycles_source"] == "icarus" and est["cycles_source"] == "estimate"
        assert abs(rtl["cycles_per_step"] - est["cycles_per_step"]) <= 0.15 * rtl["cycles_per_step"] + 2


ROUTER = """\
[router]
routing = "table"
ports = 3
key_bits = 4
table_size = 4
payload_bits = 4
lookups = 3
"""


@pytest.mark.build
@pytest.mark.cocotb
def test_sweep_of_a_router_measures_each_fifo_depth(tmp_path):
    """A router base is a valid sweep: every point is built and its saturation throughput measured on the RTL
    (and checked against the golden model); deeper buffers cost flip-flops (with the packets' routes in
    flip-flops, ``route_ram = false``: in block RAM a deep buffer has fewer than a one-packet buffer's register)."""
    (tmp_path / "router.toml").write_text(ROUTER + "route_ram = false\n")
    space = tmp_path / "space.toml"
    space.write_text("""\
[sweep]
base = "router.toml"
boards = ["icebreaker"]
[sweep.parameters]
"router.fifo_depth" = [1, 8]
[sweep.workload]
packets = 20
rtl = "icarus"
""")
    rows, front, _ = run_sweep(load_space(space), tmp_path / "out", jobs=2)
    assert [r["router.fifo_depth"] for r in rows] == [1, 8]
    assert [r["status"] for r in rows] == ["ok"] * 2, [r.get("error") for r in rows]
    assert all(r["logic_cells"] > 0 and r["fmax_mhz"] > 0 for r in rows)
    assert all(0 < r["saturation_throughput"] <= 1 for r in rows)
    # One table router: three cycles at any depth (docs/aer.md).
    assert [r["zero_load_latency"] for r in rows] == [3, 3]
    assert rows[0]["ffs"] < rows[1]["ffs"]
    # One-packet buffers stall (each input has a lookup of its own, so the buffers, not the lookups, bound it).
    assert rows[0]["saturation_throughput"] < rows[1]["saturation_throughput"]
    assert front    # the default objectives: logic cells against saturation throughput


def test_sweep_metrics_are_checked_against_the_block(tmp_path):
    (tmp_path / "router.toml").write_text(ROUTER)
    space = tmp_path / "space.toml"
    space.write_text('[sweep]\nbase = "router.toml"\n[sweep.parameters]\n"router.fifo_depth" = [2]\n'
                     '[sweep.optimize]\nobjectives = { logic_cells = "minimize", synops_per_s = "maximize" }\n')
    with pytest.raises(ConfigError, match=r"unknown metric 'synops_per_s'; a \[router\] sweep measures "):
        load_space(space)
    space.write_text('[sweep]\nbase = "router.toml"\n[sweep.parameters]\n"lif_core.lanes" = [2]\n')
    with pytest.raises(ConfigError, match=r"unknown parameter 'lif_core.lanes'; write table.key for \[router\]"):
        load_space(space)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_study_opens_in_optuna_dashboard(tmp_path):
    """The sweep's journal is an Optuna study that optuna-dashboard serves, every point's metrics attached."""
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]')
    rows, _, _ = run_sweep(load_space(space), tmp_path / "out")
    port = _free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    proc = subprocess.Popen([str(dashboard), str(tmp_path / "out" / "optuna.journal"), "--host", "127.0.0.1",
                             "--port", str(port), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    studies = json.loads(response.read())["study_summaries"]
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        assert [s["study_name"] for s in studies] == ["spikeforge"]
        study_id = studies[0]["study_id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study_id}", timeout=5) as response:
            trials = json.loads(response.read())["trials"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert len(trials) == len(rows) == 2
    for trial, row in zip(trials, rows):
        attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        assert attrs["key"] == row["key"] and attrs["status"] == "ok"
        assert float(attrs["synops_per_cycle"]) == pytest.approx(row["synops_per_cycle"])
        assert [v for v in trial["values"]] == pytest.approx([row["energy_per_synop_pj"], row["synops_per_cycle"]])


CHIP_BASE = """\
[chip]
width = 2
height = 1
inputs = 8
[chip.cores.h]
node = 1
neurons = 8
axons = 8
lanes = 2
threshold = 20
[chip.cores.o]
node = 0
neurons = 4
axons = 8
threshold = 20
[[chip.connections]]
source = "input"
target = "h"
[[chip.connections]]
source = "h"
target = "o"
[[chip.outputs]]
core = "o"
"""


@pytest.mark.cocotb
def test_sweep_of_a_chip_measures_cycles_per_step_on_the_rtl(tmp_path):
    """A chip base is a valid sweep too: each point runs random input on the RTL, checked against the model."""
    (tmp_path / "chip.toml").write_text(CHIP_BASE)
    space = tmp_path / "space.toml"
    space.write_text('[sweep]\nbase = "chip.toml"\n[sweep.parameters]\n"chip.fifo_depth" = [1, 4]\n'
                     '[sweep.workload]\nsteps = 4\nactivity = 0.5\n')
    rows, _, _ = run_sweep(load_space(space), tmp_path / "out", jobs=2)
    assert [r["status"] for r in rows] == ["ok", "ok"], [r.get("error") for r in rows]
    assert all(r["cycles_source"] == "icarus" and r["cycles_per_step"] > 10 for r in rows)
    assert rows[0]["output_spikes"] == rows[1]["output_spikes"] > 0     # buffers change timing, not results


@pytest.mark.parametrize("change, message", [
    (('"lif_core.lanes" = [1, 2]', '"lif_core.lanes" = [1, 2, 1]'), "parameter 'lif_core.lanes' lists the value 1 twice"),
    (('[sweep.optimize]', '[energy]\nsynaptic_op = "a"\n[sweep.optimize]'),
     "[energy]: 'synaptic_op' must be a non-negative number of pJ, not 'a'"),
    (('steps = 8', 'steps = true'), "[sweep.workload]: Parameter 'steps' must be an integer, not True"),
])
def test_bad_space_values_are_one_line(tmp_path, change, message):
    space = write_space(tmp_path, '"lif_core.lanes" = [1, 2]')
    text = space.read_text()
    assert change[0] in text
    space.write_text(text.replace(change[0], change[1]))
    result = CliRunner().invoke(main, ["sweep", str(space), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {space}") and line.endswith(message), line
    assert not (tmp_path / "out").exists()


def test_results_files_follow_the_umask(tmp_path):
    space = write_space(tmp_path, '"lif_core.lanes" = [1]')
    old = os.umask(0o022)
    try:
        run_sweep(load_space(space), tmp_path / "out")
    finally:
        os.umask(old)
    for name in ("results.csv", "results.jsonl"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o644, name
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in (tmp_path / "out" / "cache").iterdir())
