"""Where independent pieces of work run: a local process pool (``-j N``) or a Dask cluster
(``--scheduler tcp://HOST:PORT``), behind one :class:`concurrent.futures.Executor`. The sweeps (scripts/sweep) and
the batches of samples of ``simulate`` share it."""

from __future__ import annotations

import concurrent.futures
import contextlib


__all__ = ["SCHEDULER_SCHEMES", "check_scheduler", "executor"]


SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://")


def check_scheduler(address):
    """None when ``address`` names a Dask scheduler (or is None), else the problem in words."""
    if address and not address.startswith(SCHEDULER_SCHEMES):
        return f"--scheduler {address}: expected an address such as tcp://HOST:8786"
    return None


@contextlib.contextmanager
def executor(jobs, scheduler):
    """An executor of ``jobs`` local processes, or of the Dask cluster at ``scheduler`` when given (whose workers
    must be able to import spikeforge)."""
    if scheduler:
        from distributed import Client
        with Client(scheduler) as client:
            yield client.get_executor()
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            yield pool
