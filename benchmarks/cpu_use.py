"""CPU time of the processes a benchmark started, from Linux's ``/proc``: where the cores went.

A benchmark on a small machine shares its cores between the thing measured, the load it
generates and the workers behind it; the CPU seconds each of them used in a window say
which one bounds the run, and give a per-request cost that does not depend on the others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # ended meanwhile
        return None
    return text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces


def group_cpu_s(group: int) -> float:
    """User and system CPU seconds of the live processes of process group ``group``."""
    ticks = 0
    for entry in os.listdir("/proc"):
        fields = _stat_fields(entry) if entry.isdigit() else None
        if fields is not None and int(fields[2]) == group:  # state, ppid, pgrp, ...
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / TICKS_PER_S


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process, all its threads."""
    fields = _stat_fields(str(pid))
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def own_cpu_s() -> float:
    """This process's CPU seconds, all its threads."""
    times = os.times()
    return times.user + times.system


def used(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {role: after[role] - before[role] for role in after}
