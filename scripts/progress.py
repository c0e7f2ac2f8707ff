"""Progress on stderr: a bar on a terminal; elsewhere (a pipe, a CI log) a line every few seconds, as pip and cargo
print, so that a long command is seen to be alive."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import click


__all__ = ["INTERVAL", "progress", "still_running"]


#: Seconds between two progress lines when stderr is not a terminal.
INTERVAL = 5.0

_clock = time.monotonic


def _terminal():
    return sys.stderr.isatty()


def _line(message):
    click.echo(f"spikeforge: {message}", err=True)


class _Lines:
    """What :func:`progress` gives off a terminal: ``update(n)`` prints ``label: done of length unit`` when
    :data:`INTERVAL` has passed since the last line."""

    def __init__(self, length, label, unit):
        self._length, self._label, self._unit = length, label, unit
        self._done, self._last = 0, _clock()

    def update(self, n):
        self._done += n
        if _clock() - self._last >= INTERVAL:
            self._last = _clock()
            _line(f"{self._label}: {self._done} of {self._length} {self._unit}")


@contextlib.contextmanager
def progress(*, length, label, unit):
    """A progress bar of ``length`` ``unit`` (``"timesteps"``) on a terminal, else a line every :data:`INTERVAL`
    seconds; yields an object whose ``update(n)`` counts ``n`` more done."""
    if _terminal():
        with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
            yield bar
    else:
        yield _Lines(length, label, unit)


@contextlib.contextmanager
def still_running(label):
    """While the body runs (a simulator or tool that reports nothing), print ``label, N s so far`` every
    :data:`INTERVAL` seconds when stderr is not a terminal."""
    if _terminal():
        yield
        return
    done = threading.Event()
    start = _clock()

    def beat():
        while not done.wait(INTERVAL):
            _line(f"{label}, {_clock() - start:.0f} s so far")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
