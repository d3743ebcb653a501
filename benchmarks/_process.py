"""Timing whole processes, interleaved with a baseline so that a busy machine affects both alike.

Each run reports wall time and CPU time (user + system of the child): on a shared, noisy machine the
CPU time is the steadier figure, and the ratio against the baseline is what we compare.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    peak_mb: float = 0.0
    """The child's peak resident memory (ru_maxrss)."""


def time_process(cmd: Sequence[str], env: dict[str, str] | None = None) -> Timing:
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited with {proc.returncode}")
    return Timing(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def compare(
    subject: Sequence[str], baseline: Sequence[str], runs: int = 15, env: dict[str, str] | None = None
) -> tuple[Timing, Timing]:
    """Median timings of `subject` and `baseline`, run alternately `runs` times each."""
    time_process(subject, env)  # warm the file cache for both
    time_process(baseline, env)
    a, b = [], []
    for _ in range(runs):
        a.append(time_process(subject, env))
        b.append(time_process(baseline, env))
    return median(a), median(b)


def median(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))
