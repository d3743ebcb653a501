"""Parsing what users type for times, dates, durations and weeks, with errors that say what is allowed;
and writing times back the way the command line shows them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from posture_agent.domain.validation import FIRST_YEAR, LAST_YEAR
from posture_agent.errors import UserError


def check_in_range(day: date, option: str, text: str) -> None:
    """The one range rule, applied to the date as the user wrote it (with an offset or without)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UserError(f"{option} {text!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")


def parse_at(text: str, zone: tzinfo, option: str = "--at") -> datetime:
    """ISO 8601; a time without an offset is local (in `zone`). Returns an aware datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-24T18:30 or 2026-11-24T18:30+01:00)"
        ) from None
    check_in_range(parsed.date(), option, text)  # before any conversion, which could overflow
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
        # a wall time skipped by a DST change does not exist: refuse it rather than guess
        roundtrip = parsed.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if roundtrip != parsed.replace(tzinfo=None):
            raise UserError(f"{option} {text!r} does not exist in {zone} (skipped by a clock change)")
    return parsed


def parse_date(text: str, option: str = "--date") -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date YYYY-MM-DD") from None
    check_in_range(day, option, text)
    return day


_UNITS = re.compile(r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str, option: str = "--duration") -> timedelta:
    """'45:30' (mm:ss), '1:02:03' (h:mm:ss), '45m', '1h5m', '90' (minutes) or ISO 'PT45M'."""
    try:
        return _parse_duration(text, option)
    except OverflowError:  # more days than a timedelta holds: no run is that long
        raise UserError(f"{option} {text!r} is far too long (a run lasts at most 48 hours)") from None


def _parse_duration(text: str, option: str) -> timedelta:
    value = text.strip().lower()
    problem = UserError(f"{option} {text!r} is not a duration (e.g. 45:30, 1:02:03, 50m or 1h5m)")
    if value.startswith("pt"):
        value = value[2:]
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return timedelta(minutes=float(value))
    parts = value.split(":")
    if len(parts) in (2, 3) and all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
        numbers = [float(p) for p in parts]
        if any(n >= 60 for n in numbers[1:]):
            raise problem
        if len(numbers) == 2:
            return timedelta(minutes=numbers[0], seconds=numbers[1])
        return timedelta(hours=numbers[0], minutes=numbers[1], seconds=numbers[2])
    match = _UNITS.fullmatch(value)
    if match and any(match.groups()):
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        return timedelta(hours=h, minutes=m, seconds=s)
    raise problem


def parse_week(text: str, option: str = "--week") -> tuple[int, int]:
    """'2026-W47' → (2026, 47), checked against the ISO calendar and the accepted years."""
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", text.strip(), re.IGNORECASE)
    if match:
        year, week = int(match.group(1)), int(match.group(2))
        try:
            thursday = date.fromisocalendar(year, week, 4)  # always in the ISO year: 1970-W01 is in range
        except ValueError:
            pass
        else:
            check_in_range(thursday, option, text)
            return year, week
    raise UserError(f"{option} {text!r} is not an ISO week like 2026-W47")


def format_duration(delta: timedelta) -> str:
    total = round(delta.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


def local(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).isoformat(timespec="seconds")


def spoken(at: datetime | str | None, zone: tzinfo, now: datetime) -> str | None:
    """A time for a human line, in the local zone: "20:46" today, "Wed 02 Dec 20:46" on another
    day (JSON keeps ISO 8601 with offsets; a raw UTC stamp is not for reading)."""
    if at is None:
        return None
    when = (datetime.fromisoformat(at) if isinstance(at, str) else at).astimezone(zone)
    return f"{when:%H:%M}" if when.date() == now.astimezone(zone).date() else f"{when:%a %d %b %H:%M}"
