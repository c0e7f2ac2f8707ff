"""Reading a large events file: every row is checked as it is read (the first bad row is reported without reading
the rest) and the events take 16 bytes each, not Python objects."""

import tracemalloc

import numpy as np
import pytest

from spikeforge.scripts.data_files import DataFileError, read_events


ROWS = 200_000


def test_events_take_a_few_bytes_each(tmp_path):
    path = tmp_path / "events.csv"
    t = np.repeat(np.arange(ROWS // 10), 10)
    path.write_text("t,addr\n" + "".join(f"{ti},{ti % 8}\n" for ti in t.tolist()))
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
