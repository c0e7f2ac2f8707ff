"""Lines every benchmark report shares: the machine it ran on and the verdict on a goal."""

import datetime
import os
import platform
from pathlib import Path


__all__ = ["machine_line", "verdict"]


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
