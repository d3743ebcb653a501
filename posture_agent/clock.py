"""Time as an input: code that needs "now" takes a Clock, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is put; `advance` moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.at += timedelta(**kwargs)


def system_zone() -> tzinfo:
    """The system's time zone, preferring an IANA name (TZ or /etc/localtime) for DST-correct math."""
    import os
    from pathlib import Path

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            pass
    link = Path("/etc/localtime")
    if link.is_symlink():
        target = str(link.resolve())
        if "zoneinfo/" in target:
            try:
                return ZoneInfo(target.split("zoneinfo/", 1)[1])
            except (ValueError, KeyError, OSError):
                pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC
