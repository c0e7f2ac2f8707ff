"""What every benchmark script shares: the machine line and goal verdicts of its report, a result cache keyed by
the source it depends on, and reading back a build directory's stored result."""

import datetime
import json
import os
import platform
import sys
from pathlib import Path


__all__ = ["cached", "machine_line", "source_digest", "stored_build", "verdict"]


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line():
    """``Machine: <cpu> (<n> CPUs), <os> <release>; run <date>.``"""
    return (f"Machine: {_cpu_model()} ({os.cpu_count()} CPUs), {platform.system()} {platform.release()}; "
            f"run {datetime.date.today().isoformat()}.")


def verdict(ok):
    """How a report marks a goal: ``met`` or a bold ``not met``."""
    return "met" if ok else "**not met**"


def source_digest(digest, *packages):
    """Feed ``digest`` (a hashlib object) the name and source of every loaded module of ``packages``."""
    for name, module in sorted(sys.modules.items()):
        if name.startswith(packages) and getattr(module, "__file__", None):
            digest.update(name.encode())
            digest.update(Path(module.__file__).read_bytes())
    return digest


def cached(path, key, compute):
    """The result stored at ``path`` for ``key``, or ``compute()`` stored there (atomically)."""
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["result"]
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=2) + "\n")
    tmp.replace(path)
    return result


def stored_build(out_dir):
    """The result a board build directory holds (``{"status", "report"}`` or ``{"status", "error"}``), whatever
    it was built from; None when it holds none."""
    report, failure = out_dir / "report.json", out_dir / "failure.json"
    if report.exists():
        return {"status": "ok", "report": json.loads(report.read_text())}
    if failure.exists():
        stored = json.loads(failure.read_text())
        return {"status": "does not fit" if stored["does_not_fit"] else "failed", "error": stored["message"]}
    return None
