"""posture-agent as real processes for the tests: the CLI, `start --no-tray`, and the rows they
wrote, on a wall clock the test pins.

Why libfaketime (Debian's `faketime`) and not a clock handed to the agent: a running agent reads
"now" in two places, its own Clock and APScheduler, which waits on the system clock for the run
dates the agent computes from its Clock. Only a clock moved for the whole process, as libfaketime's
LD_PRELOAD does for the child alone, keeps the two in step. `PinnedClock(at)` starts every process
it launches at `at` (give or take the seconds since the test pinned it), running at real speed;
timeouts stay on the real monotonic clock. File times are real, not faked: a test that compares a
file's time with the agent's "now" must allow for `PinnedClock.skew`.

When the whole suite already runs under libfaketime (scripts/faketime-run.sh), the pin is taken
from the suite's own offset, so a pinned test gives the same answer at every fake hour.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

NO_BUS = "unix:path=/nonexistent"
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}
SITECUSTOMIZE = Path(__file__).with_name("faketime")
LIBFAKETIME = next(
    iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")) + glob.glob("/usr/lib/faketime/libfaketime.so.1")),
    None,
)


def suite_offset() -> int:
    """Seconds the suite's own wall clock is moved by libfaketime (0 when it is not)."""
    if "libfaketime" not in os.environ.get("LD_PRELOAD", ""):
        return 0
    value = os.environ.get("FAKETIME", "")
    relative = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)([smhdy]?)", value.strip())
    if relative is None:
        raise RuntimeError(
            f"FAKETIME={value!r}: the suite understands only a relative offset such as +5400 or -2d "
            "(scripts/faketime-run.sh sets one)"
        )
    return round(float(relative.group(1)) * UNIT_SECONDS[relative.group(2)])


class PinnedClock:
    """The wall clock of the processes a test starts: `at` when pinned, then real seconds on."""

    def __init__(self, at: datetime) -> None:
        if LIBFAKETIME is None:
            pytest.skip("libfaketime is not installed (Debian package `faketime`): it pins the agent's clock")
        self.offset = timedelta(seconds=round((at - datetime.now(UTC)).total_seconds()))

    def now(self) -> datetime:
        """What `datetime.now(UTC)` says in a process started with `env()`."""
        return datetime.now(UTC) + self.offset

    @property
    def skew(self) -> timedelta:
        """How far the pinned clock is from the real one that stamps file times."""
        return self.offset + timedelta(seconds=suite_offset())

    def env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        """`base` (default: this process's environment, no session bus) with the clock pinned."""
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=NO_BUS) if base is None else dict(base)
        preload = [p for p in env.get("LD_PRELOAD", "").split(":") if p and "libfaketime" not in p]
        env["LD_PRELOAD"] = ":".join([str(LIBFAKETIME), *preload])
        env["FAKETIME"] = f"{int(self.skew.total_seconds()):+d}"
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        env.pop("FAKETIME_SHARED", None)
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITECUSTOMIZE)]
        env["PYTHONPATH"] = os.pathsep.join([str(SITECUSTOMIZE), *paths])
        env.update(extra)
        return env


def remove_stale_faketime_segments(shm: Path = Path("/dev/shm")) -> None:
    """Unlink the shared memory and semaphore each faked process leaves behind once it has exited.

    libfaketime creates `/faketime_shm_PID` and `/faketime_sem_PID` in every process started without
    FAKETIME_SHARED (as pinned processes are) and never removes them.
    """
    for segment in [*shm.glob("faketime_shm_*"), *shm.glob("sem.faketime_sem_*")]:
        pid = segment.name.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path("/proc", pid).exists():
            segment.unlink(missing_ok=True)


def unfaked_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """`base` (default: this process's environment) on the real clock, without libfaketime.

    For a child whose test is about descriptors or threads and needs no particular time: under
    libfaketime the child opens the suite's shared memory on the lowest free descriptor (so a closed
    stdout is open again), and its pthread_cond wrappers can fail under contention, which CPython
    answers with "take_gil: PyCOND_WAIT failed" and an abort.
    """
    env = dict(os.environ) if base is None else dict(base)
    preload = [p for p in env.get("LD_PRELOAD", "").split(":") if p and "libfaketime" not in p]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    for name in [k for k in env if k.startswith("FAKETIME")]:
        del env[name]
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITECUSTOMIZE)]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m posture_agent --home HOME ARGS` (default env: this one's, no session bus)."""
    return subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(home), *args],
        capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ, DBUS_SESSION_BUS_ADDRESS=NO_BUS),
    )


class RunningAgent:
    """`posture-agent start --no-tray` as a user runs it; waits for its "running" line."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posture_agent", "--home", str(home), "start", "--no-tray"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env or dict(os.environ, DBUS_SESSION_BUS_ADDRESS=NO_BUS),
        )
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()
        assert "running" in self.first_line, self.first_line + (self.proc.stderr.read() if self.proc.stderr else "")

    def stop(self) -> tuple[int, str]:
        """SIGTERM (SIGKILL after 15 s); the exit code and what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        return self.proc.returncode, err


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows from the SQLite file, read-only, the way another process sees them."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    """`query` on the database of the posture-agent home `home`."""
    return query(home / "data" / "posture-agent.db", sql)
