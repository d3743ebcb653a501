"""One agent per home: an OS lock on a file in the runtime folder.

The lock is held by the open file (flock on POSIX, msvcrt on Windows), so the kernel releases it
when the agent dies, however it dies: a stale file left by a killed agent never blocks a new one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from posture_agent.errors import UserError


class AlreadyRunning(UserError):
    exit_code = 1


class InstanceLock:
    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / "agent.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the running agent's PID."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunning(
                f"an agent is already running for this home (pid {pid}); stop it first, "
                "or use `posture-agent pause` / `resume` to control it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            try:
                self._file.seek(0)
                self._file.truncate()
            finally:
                self._file.close()  # closing drops the OS lock
                self._file = None

    def holder(self) -> str | None:
        """The PID written by the process holding the lock, if any was written."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None

    def held_by_other(self) -> bool:
        """Whether another process holds the lock (for `doctor`); never blocks."""
        if not self.path.exists():
            return False
        with self.path.open("a+", encoding="utf-8") as handle:
            try:
                _lock(handle)
            except OSError:
                return True
            _unlock(handle)
            return False


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
