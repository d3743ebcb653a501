"""The running agent's pause: when it ends, kept in a file in the runtime folder so it survives a
restart, and, once it has ended, the moment before which prompts are not shown late.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

PAUSE_FILE = "paused-until"


class Pause:
    """Not locked itself: the agent changes it under its own lock, with the prompts it guards."""

    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / PAUSE_FILE
        self.until: datetime | None = self._read()
        self.not_before: datetime | None = None
        """Prompts due before this (e.g. during a pause that ended) are not shown late."""

    def start(self, until: datetime) -> None:
        self.until = until
        self._write(until)

    def end(self, now: datetime) -> None:
        """Ended by the user: what fell due during the pause is not shown late."""
        was = self.until
        self.until = None
        self._write(None)
        if was is not None:
            self.not_before = min(was, now)

    def lapse(self, now: datetime) -> bool:
        """End the pause when its time has come; True when it ended now."""
        if self.until is not None and now >= self.until:
            self.not_before = self.until
            self.until = None
            self._write(None)
            return True
        return False

    def _read(self) -> datetime | None:
        path = self.path
        try:
            return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def _write(self, until: datetime | None) -> None:
        path = self.path
        try:
            if until is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                path.write_text(until.isoformat(), encoding="utf-8")
        except OSError:
            log.warning("could not keep the pause in %s", path)
