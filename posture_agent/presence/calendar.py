"""Meetings from a local iCalendar (.ics) file: is one going on now?

A small reader for what calendar exports need here, not all of RFC 5545: VEVENTs with DTSTART and
DTEND or DURATION (UTC, TZID or floating local times), one-off or repeating by RRULE FREQ=DAILY or
WEEKLY (INTERVAL, COUNT, UNTIL, BYDAY) with EXDATE. All-day, cancelled and free (TRANSPARENT)
events are not meetings. Repeats are expanded in their own zone's wall time, so a 09:00 meeting
stays at 09:00 across a daylight-saving change. Other repeat rules count as their first
occurrence only (logged once). A file that cannot be read raises `CalendarError` naming the file
and line; the presence check then takes the user as present and doctor shows the one line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posture_agent.presence.base import SignalUnavailable

log = logging.getLogger(__name__)

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_BYTES = 20 * 1024 * 1024
"""A larger file is refused rather than read at every prompt."""


class CalendarError(Exception):
    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        where = f"{path}" + (f", line {line}" if line else "")
        super().__init__(f"calendar {where}: {problem}")


@dataclass(frozen=True)
class Meeting:
    summary: str
    start: datetime
    """The first occurrence, in its own zone (aware)."""
    duration: timedelta
    freq: str | None = None
    """DAILY or WEEKLY; None for a one-off."""
    interval: int = 1
    count: int | None = None
    until: datetime | None = None
    """UTC."""
    byday: tuple[int, ...] = ()
    exdates: frozenset[datetime] = frozenset()
    """Excluded occurrence starts, UTC."""

    def occurrences(self, around: datetime) -> Iterator[datetime]:
        """Starts (UTC) of the occurrences that could contain `around`."""
        zone = self.start.tzinfo
        assert zone is not None
        first_day = self.start.date()
        wall = self.start.timetz().replace(tzinfo=None)
        target = around.astimezone(zone).date()
        lookback = self.duration.days + 1
        days = [target - timedelta(days=n) for n in range(lookback, -1, -1)]
        counted = self._counted_days(first_day, target) if self.count is not None else None
        for day in days:
            if day < first_day or not self._on(day, first_day):
                continue
            if counted is not None and day not in counted:
                continue
            start = _wall_instant(day, wall, zone)
            if self.until is not None and start > self.until:
                continue
            if start in self.exdates:
                continue
            yield start

    def _on(self, day: date, first_day: date) -> bool:
        if self.freq is None:
            return day == first_day
        if self.freq == "DAILY":
            return (day - first_day).days % self.interval == 0
        weekdays = self.byday or (first_day.weekday(),)
        weeks = ((day - timedelta(days=day.weekday())) - (first_day - timedelta(days=first_day.weekday()))).days // 7
        return day.weekday() in weekdays and weeks % self.interval == 0

    def _counted_days(self, first_day: date, last: date) -> set[date]:
        """The first COUNT occurrence days (COUNT counts from DTSTART), up to `last`."""
        out: set[date] = set()
        day, seen = first_day, 0
        while day <= last and seen < (self.count or 0):
            if self._on(day, first_day):
                out.add(day)
                seen += 1
            day += timedelta(days=1)
        return out

    def at(self, now: datetime) -> datetime | None:
        """When the occurrence going on at `now` ends, or None."""
        for start in self.occurrences(now):
            end = start + self.duration
            if start <= now < end:
                return end
        return None


def _wall_instant(day: date, wall: time, zone: tzinfo) -> datetime:
    """The instant (UTC) of a wall time in `zone`; one skipped by a DST change moves forward by the gap."""
    return datetime.combine(day, wall).replace(tzinfo=zone).astimezone(UTC)


def unfold(text: str) -> list[tuple[int, str]]:
    """Content lines with their first line number, folded continuations joined (RFC 5545 3.1)."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and out:
            first, line = out[-1]
            out[-1] = (first, line + raw[1:])
        elif raw.strip():
            out.append((number, raw))
    return out


def parse(text: str, path: Path, local: tzinfo) -> list[Meeting]:
    """The meetings of an .ics text; floating times are taken in `local`."""
    lines = unfold(text)
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise CalendarError(path, "not an iCalendar file (it must start with BEGIN:VCALENDAR)", 1)
    meetings: list[Meeting] = []
    event: dict[str, tuple[int, dict[str, str], str]] | None = None
    exdates: list[tuple[int, dict[str, str], str]] = []
    begun = 0
    for number, line in lines:
        name, params, value = _content_line(line, path, number)
        if name == "BEGIN" and value.upper() == "VEVENT":
            event, exdates, begun = {}, [], number
        elif name == "END" and value.upper() == "VEVENT":
            if event is None:
                raise CalendarError(path, "END:VEVENT without BEGIN:VEVENT", number)
            meeting = _meeting(event, exdates, path, begun, local)
            if meeting is not None:
                meetings.append(meeting)
            event = None
        elif event is not None:
            if name == "EXDATE":
                exdates.append((number, params, value))
            else:
                event[name] = (number, params, value)
    if event is not None:
        raise CalendarError(path, "BEGIN:VEVENT is never ended", begun)
    return meetings


def _content_line(line: str, path: Path, number: int) -> tuple[str, dict[str, str], str]:
    head, sep, value = line.partition(":")
    if not sep:
        raise CalendarError(path, f"not a NAME:VALUE line: {line[:40]!r}", number)
    name, *raw_params = head.split(";")
    params = {}
    for p in raw_params:
        key, _, v = p.partition("=")
        params[key.upper()] = v.strip('"')
    return name.strip().upper(), params, value.strip()


def _meeting(
    event: dict[str, tuple[int, dict[str, str], str]],
    exdates: list[tuple[int, dict[str, str], str]],
    path: Path, begun: int, local: tzinfo,
) -> Meeting | None:
    if "DTSTART" not in event:
        raise CalendarError(path, "an event has no DTSTART", begun)
    if event.get("STATUS", (0, {}, ""))[2].upper() == "CANCELLED":
        return None
    if event.get("TRANSP", (0, {}, ""))[2].upper() == "TRANSPARENT":
        return None
    number, params, value = event["DTSTART"]
    start = _datetime(value, params, path, number, local)
    if start is None:
        return None  # an all-day event: a day off or a reminder, not a meeting
    if "DTEND" in event:
        end_number, end_params, end_value = event["DTEND"]
        end = _datetime(end_value, end_params, path, end_number, local)
        duration = (end or start) - start
    elif "DURATION" in event:
        duration = _duration(event["DURATION"][2], path, event["DURATION"][0])
    else:
        duration = timedelta(0)
    if duration <= timedelta(0):
        return None
    summary = event.get("SUMMARY", (0, {}, "meeting"))[2] or "meeting"
    excluded = frozenset(
        at.astimezone(UTC) for n, p, v in exdates for part in v.split(",")
        if (at := _datetime(part, p, path, n, local)) is not None
    )
    meeting = Meeting(summary, start, duration, exdates=excluded)
    if "RRULE" in event:
        rule_number, _, rule = event["RRULE"]
        meeting = _with_rule(meeting, rule_number, rule, path, local)
    return meeting


def _with_rule(meeting: Meeting, number: int, rule: str, path: Path, local: tzinfo) -> Meeting:
    parts = dict(p.partition("=")[::2] for p in rule.upper().split(";") if p)
    freq = parts.get("FREQ")
    if freq not in ("DAILY", "WEEKLY"):
        log.warning("calendar %s, line %d: RRULE FREQ=%s is taken as its first occurrence only", path, number, freq)
        return meeting
    try:
        interval = int(parts.get("INTERVAL", "1"))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
    except ValueError:
        raise CalendarError(path, f"RRULE INTERVAL and COUNT must be whole numbers: {rule!r}", number) from None
    if interval < 1:
        raise CalendarError(path, f"RRULE INTERVAL must be 1 or more: {rule!r}", number)
    byday = []
    for day in filter(None, parts.get("BYDAY", "").split(",")):
        if day[-2:] not in WEEKDAYS:
            raise CalendarError(path, f"RRULE BYDAY has an unknown day {day!r}", number)
        byday.append(WEEKDAYS.index(day[-2:]))
    until = _datetime(parts["UNTIL"], {}, path, number, local) if "UNTIL" in parts else None
    if "UNTIL" in parts and until is None:  # a date: the whole of that local day
        last_day = datetime.strptime(parts["UNTIL"][:8], "%Y%m%d").date() + timedelta(days=1)
        until = datetime.combine(last_day, time()).replace(tzinfo=meeting.start.tzinfo)
    return Meeting(
        meeting.summary, meeting.start, meeting.duration, freq, interval, count,
        until.astimezone(UTC) if until else None,
        tuple(sorted(set(byday))) if freq == "WEEKLY" else (), meeting.exdates,
    )


def _datetime(value: str, params: dict[str, str], path: Path, number: int, local: tzinfo) -> datetime | None:
    """A DATE-TIME (aware, in its zone), or None for a DATE."""
    value = value.strip()
    if params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
        return None
    match = re.fullmatch(r"(\d{8}T\d{6})(Z?)", value)
    if not match:
        raise CalendarError(path, f"not a date-time like 20261201T093000: {value!r}", number)
    try:
        naive = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
    except ValueError:
        raise CalendarError(path, f"not a valid date-time: {value!r}", number) from None
    if match.group(2):
        return naive.replace(tzinfo=UTC)
    zone = local
    if "TZID" in params:
        try:
            zone = ZoneInfo(params["TZID"])
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("calendar %s, line %d: unknown TZID %r, taken as local time", path, number, params["TZID"])
    return naive.replace(tzinfo=zone)


def _duration(value: str, path: Path, number: int) -> timedelta:
    match = re.fullmatch(r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value.strip())
    if not match or value.strip() in ("P", "PT"):
        raise CalendarError(path, f"not a duration like PT30M: {value!r}", number)
    sign, weeks, days, hours, minutes, seconds = match.groups()
    span = timedelta(
        weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0),
        minutes=int(minutes or 0), seconds=int(seconds or 0),
    )
    return -span if sign == "-" else span


class CalendarFile:
    """The calendar signal: read again whenever the file changes (size or modification time)."""

    kind = "calendar"

    def __init__(self, path: Path, zone: tzinfo) -> None:
        self.path = path
        self.zone = zone
        self.source = f"calendar file {path.name}"
        self._stamp: tuple[int, int] | None = None
        self._meetings: list[Meeting] = []
        self._error: str | None = None

    def meetings(self) -> list[Meeting]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise SignalUnavailable(f"calendar {self.path}: cannot be read: {exc.strerror or exc}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                if st.st_size > MAX_BYTES:
                    raise CalendarError(self.path, f"larger than {MAX_BYTES // 2**20} MB")
                text = self.path.read_bytes().decode("utf-8-sig", errors="replace")
                self._meetings, self._error = parse(text, self.path, self.zone), None
            except CalendarError as exc:
                self._meetings, self._error = [], str(exc)
                log.warning("%s; meetings are not taken into account until it is fixed", exc)
            except OSError as exc:
                self._meetings, self._error = [], f"calendar {self.path}: cannot be read: {exc.strerror or exc}"
        if self._error:
            raise SignalUnavailable(self._error)
        return self._meetings

    def away(self, now: datetime) -> str | None:
        ends = [end for m in self.meetings() if (end := m.at(now)) is not None]
        if not ends:
            return None
        return f"in a meeting until {max(ends).astimezone(self.zone):%H:%M}"
