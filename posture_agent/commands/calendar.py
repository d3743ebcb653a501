"""`posture-agent calendar`: the meetings that would hold prompts, one per occurrence, exactly as the
agent reads them (the same child process, the same cached expansion; docs/presence.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from posture_agent.context import Context, add_json
from posture_agent.errors import UserError
from posture_agent.presence.calendar import Expansion, Meeting
from posture_agent.presence.desktop import calendar_signal
from posture_agent.timeparse import local, parse_at, parse_date

MAX_CALENDAR_DAYS = 60


def register(sub: Any) -> None:
    p = sub.add_parser("calendar", help="the meetings that would hold prompts, as the agent reads them")
    p.add_argument(
        "--from", dest="start", metavar="DATE",
        help="from this day (YYYY-MM-DD) or time (ISO 8601); default: today",
    )
    p.add_argument(
        "--days", type=int, default=1, metavar="N", help=f"how many days (1 to {MAX_CALENDAR_DAYS}, default 1)"
    )
    add_json(p)
    p.set_defaults(func=cmd_calendar)


def window_of(text: str | None, days: int, zone: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """`--from` (a day: from its local midnight; a time: from it) and `--days` as two UTC instants."""
    if not 1 <= days <= MAX_CALENDAR_DAYS:
        raise UserError(f"--days {days} is out of range (1 to {MAX_CALENDAR_DAYS})")
    if text is not None and "T" in text.upper():
        start = parse_at(text, zone, "--from")
        return start.astimezone(UTC), (start + timedelta(days=days)).astimezone(UTC)
    day = parse_date(text, "--from") if text is not None else now.astimezone(zone).date()
    begins = datetime.combine(day, datetime.min.time()).replace(tzinfo=zone)
    ends = datetime.combine(day + timedelta(days=days), datetime.min.time()).replace(tzinfo=zone)
    return begins.astimezone(UTC), ends.astimezone(UTC)


def calendar_between(ctx: Context, start: datetime, end: datetime) -> Expansion | None:
    """The expansion covering the two instants, as the agent reads it; None with no calendar set.
    A calendar that nothing could be read from is a UserError naming why, in one line."""
    settings = ctx.settings()
    calendar = calendar_signal(settings, ctx.paths.data_dir)
    if calendar is None:
        return None
    expansion = calendar.meetings(start, end, ctx.clock.now())
    broken = expansion.unreadable()
    if broken:
        raise UserError(f"calendar {broken}")
    return expansion


def meeting_json(meeting: Meeting, zone: tzinfo) -> dict[str, Any]:
    return {
        "start": local(meeting.start, zone), "end": local(meeting.end, zone),
        "summary": meeting.summary, "file": meeting.file,
    }


def span(meeting: Meeting, zone: tzinfo) -> str:
    """"09:30–10:00", or with the end's day when it ends on another day."""
    start, end = meeting.start.astimezone(zone), meeting.end.astimezone(zone)
    return f"{start:%H:%M}–{end:%H:%M}" if end.date() == start.date() else f"{start:%H:%M}–{end:%a %d %b %H:%M}"


def cmd_calendar(ctx: Context, args: argparse.Namespace) -> None:
    zone = ctx.zone()
    start, end = window_of(args.start, args.days, zone, ctx.clock.now())
    expansion = calendar_between(ctx, start, end)
    meetings = expansion.between(start, end) if expansion else []
    data = {
        "from": local(start, zone), "to": local(end, zone), "timezone": str(zone),
        "calendars": list(ctx.settings().calendar),
        "files": list(expansion.files) if expansion else [],
        "events": expansion.events if expansion else 0,
        "skipped": [
            {"file": p.file, "line": p.line, "problem": p.problem} for p in (expansion.problems if expansion else ())
        ],
        "meetings": [meeting_json(m, zone) for m in meetings],
    }

    def text() -> list[str]:
        if expansion is None:
            return [f"No calendar set ([presence] calendar in {ctx.paths.config_file})."]
        lines = [f"Calendar: {expansion.state()}"]
        if not meetings:
            return [*lines, f"No meetings from {start.astimezone(zone):%a %d %b %H:%M} for {args.days} day(s)."]
        day = None
        for m in meetings:
            at = m.start.astimezone(zone)
            if at.date() != day:
                day = at.date()
                lines.append(f"{at:%A %d %B %Y}")
            lines.append(f"  {span(m, zone)}  {m.summary}")
        return lines

    ctx.emit(data, text)
