"""Calendar files expanded into meetings with icalendar and recurring-ical-events.

This module runs only in a short-lived child process (`posture-agent --calendar-process`, started
by `presence/calendar.py` when a file changed or a new day began): the resident agent never imports
these libraries, and a calendar that is slow or hostile costs the child its time budget, not the
agent its lock. icalendar parses each file (Windows and vendor-prefixed zone names, VTIMEZONE blocks,
VALARMs apart from their event); recurring-ical-events turns the events into occurrences between two
instants (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides incl. RANGE=THISANDFUTURE). Our code only
decides what a meeting is and writes the result for the agent and the commands to read.

A broken event (a date that is not one, a repeat rule that does not parse) is skipped and named by
file and line; the rest of the file counts. An event lasting longer than the window (ending in
9999, `DURATION:P999999999W`) is clipped to what the window can see.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if sys.platform != "win32":
    import resource

import icalendar
import recurring_ical_events
from icalendar.timezone import tzp

from posture_agent.clock import system_zone
from posture_agent.inputs import NotARegularFile, read_bounded
from posture_agent.presence.calendar import (
    MAX_BYTES,
    Expansion,
    Meeting,
    Problem,
    Request,
    calendar_files,
    stamps,
    write_expansion,
)

log = logging.getLogger(__name__)

TZID_LINE = re.compile(r"^TZID:(.+?)\r?$", re.MULTILINE | re.IGNORECASE)
"""The TZID property of a VTIMEZONE (a parameter elsewhere: `DTSTART;TZID=…`)."""
MAX_MEMORY = 1024 * 1024 * 1024
"""The child's address space: a 20 MB calendar (the size cap) parses well within it."""
FREQUENT = ("SECONDLY", "MINUTELY")
"""Repeats this often are not meetings, and expanding them would cost the whole budget."""
PROPERTY_NAME = re.compile(r"[A-Za-z0-9-]+(?=[;:])")
NEEDED = frozenset({
    "BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "X-WR-TIMEZONE",
    "UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SEQUENCE",
    "STATUS", "TRANSP", "SUMMARY",
    "TZID", "TZOFFSETFROM", "TZOFFSETTO", "TZNAME", "X-LIC-LOCATION",
})
"""The properties read: the calendar's own, an event's times, repeats, state and title, and the
time zones' definitions."""


def cap_memory(limit: int = MAX_MEMORY) -> None:
    """Bound the child's address space (POSIX): a huge calendar fails with MemoryError, named by the
    parent, instead of taking the machine's memory. On Windows the time budget alone bounds it."""
    if sys.platform == "win32":
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: Sequence[str]) -> int:
    """The child process: one JSON request on the command line, the expansion written to its file."""
    warnings.simplefilter("ignore")  # icalendar warns when it guesses a vendor-prefixed TZID
    request = Request.from_json(json.loads(argv[0]))
    write_expansion(request.out, expand(request))
    return 0


def expand(request: Request) -> Expansion:
    """Every meeting of the request's calendars between its two instants."""
    zone = ZoneInfo(request.zone) if request.zone else system_zone()
    recorded = stamps(request.sources)  # before reading: a change made meanwhile reads again next time
    files, problems = calendar_files(request.sources)
    read: list[str] = []
    events = 0
    meetings: list[Meeting] = []
    for path in files:
        found = read_file(path, zone, request.start, request.end, request.hold_tentative)
        if isinstance(found, Problem):
            problems.append(found)
            continue
        read.append(str(path))
        events += found[0]
        meetings += found[1]
        problems += found[2]
    return Expansion(
        request=request, stamps=recorded, files=tuple(read), events=events,
        problems=tuple(problems), meetings=tuple(sorted(meetings)),
    )


def read_file(
    path: Path, zone: tzinfo, start: datetime, end: datetime, hold_tentative: bool,
) -> Problem | tuple[int, list[Meeting], list[Problem]]:
    """(events, meetings, skipped events) of one file, or the one problem that refuses it whole."""
    try:
        data = read_bounded(path, MAX_BYTES)
    except NotARegularFile as exc:
        return Problem(str(path), None, str(exc))
    except OSError as exc:
        return Problem(str(path), None, f"cannot be read: {exc.strerror or exc}")
    if len(data) > MAX_BYTES:
        return Problem(str(path), None, f"larger than {MAX_BYTES // 2**20} MB: not read")
    text = data.decode("utf-8-sig", errors="replace")
    _prefer_known_zones(text)
    try:
        calendars = icalendar.Calendar.from_ical(needed_lines(text), multiple=True)
    except Exception as exc:  # icalendar says ValueError mostly; any failure refuses this file alone
        return Problem(str(path), _line_in(str(exc), text), f"not an iCalendar file: {_first_line(exc)}")
    if not calendars:
        return Problem(str(path), 1, "not an iCalendar file (no BEGIN:VCALENDAR)")
    lines = iter(_event_lines(text))
    events = 0
    meetings: list[Meeting] = []
    skipped: list[Problem] = []
    for calendar in calendars:
        kept = []
        for component in calendar.subcomponents:
            if component.name != "VEVENT":
                kept.append(component)
                continue
            events += 1
            line = next(lines, None)
            problem = _event_problem(component)
            if problem is None:
                try:
                    _clip(component, zone, start, end)
                except Exception as exc:  # a value icalendar read but no date arithmetic can use
                    problem = f"its length cannot be computed: {_first_line(exc)}"
            if problem is None:
                kept.append(component)
                component["X-POSTURE-LINE"] = str(line or 0)
            else:
                skipped.append(Problem(str(path), line, problem))
        calendar.subcomponents = kept
        found, bad = _occurrences(calendar, path, zone, start, end, hold_tentative)
        meetings += found
        skipped += bad
    return events, meetings, skipped


def _occurrences(
    calendar: icalendar.Calendar, path: Path, zone: tzinfo, start: datetime, end: datetime, hold_tentative: bool,
) -> tuple[list[Meeting], list[Problem]]:
    """The meetings of one calendar; a series the library cannot expand is skipped alone."""
    try:
        return _meetings(_between(calendar, start, end), path, zone, hold_tentative), []
    except Exception:
        log.debug("calendar %s: expanding it whole failed; series by series", path, exc_info=True)
    others = [c for c in calendar.subcomponents if c.name != "VEVENT"]
    series: dict[str, list[icalendar.Component]] = {}
    for event in calendar.subcomponents:
        if event.name == "VEVENT":
            series.setdefault(str(event.get("UID", id(event))), []).append(event)
    meetings: list[Meeting] = []
    skipped: list[Problem] = []
    for members in series.values():
        alone = icalendar.Calendar()
        alone.subcomponents = [*others, *members]
        try:
            meetings += _meetings(_between(alone, start, end), path, zone, hold_tentative)
        except Exception as exc:
            line = min(int(str(m.get("X-POSTURE-LINE", "0"))) for m in members) or None
            skipped.append(Problem(str(path), line, f"its repeats cannot be expanded: {_first_line(exc)}"))
    return meetings, skipped


def _between(calendar: icalendar.Calendar, start: datetime, end: datetime) -> list[icalendar.Component]:
    return list(recurring_ical_events.of(calendar).between(start, end))


def _meetings(
    occurrences: Iterable[Any], path: Path, zone: tzinfo, hold_tentative: bool,
) -> list[Meeting]:
    """Timed, confirmed (or tentative, if they count), busy occurrences with a length."""
    out = []
    for occurrence in occurrences:
        status = str(occurrence.get("STATUS", "CONFIRMED")).upper()
        if status == "CANCELLED" or (status == "TENTATIVE" and not hold_tentative):
            continue
        if str(occurrence.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        begins, ends = occurrence.get("DTSTART"), _end_of(occurrence)
        if begins is None or not isinstance(begins.dt, datetime) or not isinstance(ends, datetime):
            continue  # all-day: a day off or a reminder, not a meeting
        first, last = _aware(begins.dt, zone).astimezone(UTC), _aware(ends, zone).astimezone(UTC)
        if last <= first:  # compared in UTC: one zone's wall times would hide a DST gap
            continue
        summary = " ".join(str(occurrence.get("SUMMARY", "")).split()) or "meeting"
        line = int(str(occurrence.get("X-POSTURE-LINE", "0"))) or None
        out.append(Meeting(first, last, summary, str(path), line))
    return out


def _end_of(occurrence: Any) -> date | None:
    try:
        return occurrence.end  # type: ignore[no-any-return]
    except Exception:  # no DTEND and no DURATION: icalendar's own rule, else nothing
        return None


def _event_problem(event: icalendar.Component) -> str | None:
    """Why this event cannot be read, or None. A DURATION too long to compute is clipped, not refused."""
    for name, error in event.errors:
        if name == "DURATION" and "duration" in str(error).lower():
            continue
        if name in ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"):
            return f"{name}: {_first_line(error)}"
    if "DTSTART" not in event:
        return "an event has no DTSTART"
    for name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
        if isinstance(event.get(name), list):
            return f"{name} appears more than once"
    rules = event.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        if any(str(f).upper() in FREQUENT for f in rule.get("FREQ", [])):
            return f"repeats every {str(rule['FREQ'][0]).lower().removesuffix('ly')}: not a meeting"
    return None


def _clip(event: Any, zone: tzinfo, start: datetime, end: datetime) -> None:
    """An occurrence lasting past everything the window can see (ending in 9999, P999999999W) lasts
    only that long: the library adds the length to every start, and a year past 9999 does not exist.
    A one-off event reaches the window's end; each repeat of a series lasts the window's length."""
    begins = event["DTSTART"].dt
    if "RRULE" in event or "RDATE" in event:
        cap = end - start + timedelta(days=1)
    elif not isinstance(begins, datetime):
        cap = timedelta(days=max((end.date() - begins).days + 1, 1))
    else:
        cap = max(end - _aware(begins, zone), timedelta(0)) + timedelta(days=1)
    broken = "DURATION" in event and isinstance(event["DURATION"], icalendar.vBroken)
    try:
        too_long = broken or event.duration > cap
    except Exception:
        return  # no length: icalendar's default applies
    if too_long:
        event.pop("DTEND", None)
        event.pop("DURATION", None)
        event.add("DURATION", cap)


def _aware(at: datetime, zone: tzinfo) -> datetime:
    """A floating time is the config's local time."""
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def needed_lines(text: str) -> str:
    """The text with only the properties a meeting needs (folded lines joined first): descriptions,
    attendees and vendor properties are most of a real export and most of icalendar's parsing time.
    A line that is no property at all (a line left unfolded) goes too."""
    kept: list[str] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):
            if kept and kept[-1]:
                kept[-1] += line[1:]
            continue
        name = PROPERTY_NAME.match(line)
        kept.append(line if name and name.group(0).upper() in NEEDED else "")
    return "\r\n".join(line for line in kept if line) + "\r\n"


def _prefer_known_zones(text: str) -> None:
    """Each VTIMEZONE whose TZID icalendar maps to an IANA zone (a Windows name, a vendor-prefixed
    one like /mozilla.org/…/Europe/Berlin) is read as that zone: icalendar looks the name up first,
    which keeps the zone it finds, instead of building one from the block's rules (a rule repeating
    yearly since 1601, read again at every offset: most of the expansion's time)."""
    for tzid in set(TZID_LINE.findall(text)):
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it says when it strips a vendor prefix: that is the point
            tzp.timezone(tzid.strip())


def _event_lines(text: str) -> list[int]:
    """The line of each BEGIN:VEVENT, in the order icalendar meets them."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip().upper() == "BEGIN:VEVENT"]


def _line_in(message: str, text: str) -> int | None:
    """The line of the text icalendar quotes in its error, when it quotes one."""
    quoted = message.rpartition(": ")[2].strip("'\"")
    if not quoted:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if quoted in line:
            return number
    return None


def _first_line(error: object) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def run(argv: Sequence[str] | None = None) -> int:
    """Entry for `--calendar-process`: any failure is one line on stderr for the parent to show."""
    try:
        cap_memory()
        return main(sys.argv[1:] if argv is None else argv)
    except Exception as exc:
        sys.stderr.write(f"{type(exc).__name__}: {_first_line(exc)}\n")
        return 1
