"""The machine a benchmark ran on, printed at the top of every benchmark's output."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


def machine(*packages: str) -> dict[str, str]:
    """CPU model, cores, RAM, load average, Python, and the versions of ``packages``."""
    cpu = platform.processor() or platform.machine() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        ram = "?"
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    info = {
        "cpu": cpu,
        "cores": f"{cores} logical, {usable} usable",
        "ram": ram,
        "load average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
    }
    for name in packages:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def print_machine(*packages: str) -> dict[str, str]:
    info = machine(*packages)
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:>{width}}: {value}")
    return info
