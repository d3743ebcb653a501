"""Local days and ISO weeks: stored times are UTC, the user's days are local, and a day is 23 or 25
hours long across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def local_day(at: datetime, zone: tzinfo) -> date:
    return at.astimezone(zone).date()


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC: 23 or 25 hours long across a DST change."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def week_days(year: int, week: int) -> list[date]:
    """The seven local days of an ISO week, Monday first."""
    monday = date.fromisocalendar(year, week, 1)
    return [monday + timedelta(days=i) for i in range(7)]


def week_bounds(year: int, week: int, zone: tzinfo) -> tuple[datetime, datetime]:
    days = week_days(year, week)
    return day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
