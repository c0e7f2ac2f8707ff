"""Reading a large events file: every row is checked as it is read (the first bad row is reported without reading
the rest), the events take 16 bytes each, not Python objects, and a file in time order is streamed a timestep at
a time, through ``simulate --backend model`` too."""

import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.scripts.cli import main
from spikeforge.scripts.data_files import DataFileError, OutOfOrder, read_event_steps, read_events


ROWS = 200_000


def ten_a_step(path):
    """An events file of ROWS events in time order, ten a timestep, on axon t % 8."""
    t = np.repeat(np.arange(ROWS // 10), 10)
    path.write_text("t,addr\n" + "".join(f"{ti},{ti % 8}\n" for ti in t.tolist()))
    return path


def test_events_take_a_few_bytes_each(tmp_path):
    path = ten_a_step(tmp_path / "events.csv")
    tracemalloc.start()
    try:
        events, _ = read_events(path, axons=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(events) == ROWS and events[-1].tolist() == [ROWS // 10 - 1, (ROWS // 10 - 1) % 8]
    assert peak < 24 * ROWS, f"{peak / ROWS:.0f} bytes per event"


def test_the_first_bad_row_is_reported_before_the_rest_is_read(tmp_path):
    path = tmp_path / "events.csv"
    rows = [f"{t},1\n" for t in range(1000)]
    rows[500] = "500,9\n"                                   # axon 9 of 8, on line 502
    # The rest of the file is not text at all: it must not be read before line 502 is reported.
    path.write_bytes(("t,addr\n" + "".join(rows)).encode() + b"0,1\n" * 100_000 + b"\xff\xfe\n")
    with pytest.raises(DataFileError, match=rf"^{path} line 502: axon 9 is out of range 0..7$"):
        read_events(path, axons=8)


def test_a_file_in_time_order_streams_in_the_memory_of_one_timestep(tmp_path):
    path = ten_a_step(tmp_path / "events.csv")
    tracemalloc.start()
    try:
        steps = 0
        for step, axons, rewards in read_event_steps(path, axons=8, steps=ROWS // 10 + 5):
            assert step == steps and axons == [step % 8] * (10 if step < ROWS // 10 else 0) and rewards == []
            steps += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert steps == ROWS // 10 + 5
    assert peak < 200_000, f"{peak} bytes for {ROWS} events"      # reading them all takes 16 bytes each


def test_a_file_out_of_time_order_cannot_stream(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("t,addr\n0,1\n2,3\n1,4\n")
    with pytest.raises(OutOfOrder, match="time 1 comes after time 2"):
        list(read_event_steps(path, axons=8))


CORE = "[lif_core]\nneurons = 8\naxons = 6\nlanes = 2\nthreshold = 20\n"
LEARNING = CORE + "[stdp]\nreward = true\nlr_shift = 4\na_plus = 40\na_minus = 30\n"


@pytest.mark.parametrize("config", [CORE, LEARNING], ids=["inference", "learning"])
def test_simulate_streams_in_order_and_sorts_out_of_order_alike(tmp_path, config):
    # The same events in time order (streamed) and shuffled (read whole and sorted) give the same spikes, state
    # and learned weights.
    (tmp_path / "core.toml").write_text(config)
    rng = np.random.default_rng(3)
    np.save(tmp_path / "w.npy", rng.integers(-8, 24, size=(6, 8)))
    rows = [f"{t},{int(a)}" for t in range(0, 40, 3) for a in rng.integers(0, 6, size=4)]
    if "stdp" in config:
        rows += [f"{t},reward,{int(rng.integers(-100, 100))}" for t in range(1, 40, 4)]   # one a step at most
        rows.sort(key=lambda row: int(row.split(",")[0]))
    header = "t,addr,value\n" if "stdp" in config else "t,addr\n"
    (tmp_path / "ordered.csv").write_text(header + "".join(f"{row}\n" for row in rows))
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    (tmp_path / "shuffled.csv").write_text(header + "".join(f"{row}\n" for row in shuffled))
    learned = ["--dump-weights"] if "stdp" in config else []
    outputs = {}
    for name in ("ordered", "shuffled"):
        result = CliRunner().invoke(main, ["simulate", str(tmp_path / "core.toml"), "--input",
                                           str(tmp_path / f"{name}.csv"), "--weights", str(tmp_path / "w.npy"),
                                           "--steps", "45", "--dump-state", *learned, "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        outputs[name] = ((tmp_path / name / "spikes.csv").read_text(), np.load(tmp_path / name / "state.npz")["v"],
                         result.stdout.split(";")[0])
        if learned:
            outputs[name] += (np.load(tmp_path / name / "weights.npy"),)
    ordered, other = outputs["ordered"], outputs["shuffled"]
    assert ordered[0] == other[0] and ordered[0].count("\n") > 5
    np.testing.assert_array_equal(ordered[1], other[1])
    assert ordered[1].shape == (45, 8)
    assert ordered[2] == other[2]
    if learned:
        np.testing.assert_array_equal(ordered[3], other[3])
        assert "10 rewards" in ordered[2] and not np.array_equal(ordered[3], np.load(tmp_path / "w.npy"))
