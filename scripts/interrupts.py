"""Stopping a command cleanly on SIGTERM, as on Ctrl-C (SIGINT).

A terminal's Ctrl-C reaches the whole foreground process group, the simulator or build tool included; a SIGTERM
(a CI job's timeout, ``kill``) reaches this process only. :func:`terminate_like_interrupt` makes SIGTERM stop the
process's own children (the simulator, the build tools), then raise KeyboardInterrupt in the command, so that
its staging and temporary directories are removed on the way out as after a Ctrl-C.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


__all__ = ["descendants", "terminate_like_interrupt"]


def descendants(pid):
    """The process ids of every descendant of ``pid`` (from /proc; empty where there is none)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ')'.
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _on_terminate(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)          # once is enough
    for pid in reversed(descendants(os.getpid())):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    raise KeyboardInterrupt


def terminate_like_interrupt():
    """Install the SIGTERM handler (in the main thread)."""
    signal.signal(signal.SIGTERM, _on_terminate)
