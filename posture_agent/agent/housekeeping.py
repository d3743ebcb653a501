"""What the agent's once-a-minute housekeeping notices without polling anything more often: a file
changed (its modification time and size), and the wall clock moving against the monotonic clock
(the machine slept, or the clock was set). The monotonic clock is injectable like the wall clock,
so a test can make a jump, or make none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

CLOCK_JUMP_SECONDS = 5


def file_stamp(path: Any) -> tuple[int, int] | None:
    """Modification time and size, None when the file is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def data_files_stamp(db_file: Path) -> tuple[Any, ...]:
    """The database and its WAL: another process (a command) recording something changes one."""
    return tuple(file_stamp(f"{db_file}{suffix}") for suffix in ("", "-wal"))


class ClockWatch:
    """The wall clock against the monotonic one since the last look."""

    def __init__(self, wall: datetime, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._last_wall, self._last_mono = wall, monotonic()

    def drift(self, now: datetime) -> float:
        """Seconds the wall clock moved beyond the monotonic clock (negative: set back)."""
        mono = self.monotonic()
        drift = (now - self._last_wall).total_seconds() - (mono - self._last_mono)
        self._last_wall, self._last_mono = now, mono
        return drift

    def jumped(self, drift: float) -> bool:
        return abs(drift) > CLOCK_JUMP_SECONDS
