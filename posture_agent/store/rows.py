"""Stored rows as plain records (domain/records.py), for both ways the store is read: through
SQLAlchemy (store/queries.py) and through the standard library's sqlite3 (store/reads.py), so that
both hand the figures the very same records.

Times are stored as naive UTC text in SQLAlchemy's SQLite format ('2026-11-25 11:00:00.000000'):
parsed here in C, never by regex, and written the same way for the bounds of a read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from posture_agent.domain import records as r


def utc(text: str) -> datetime:
    """A stored timestamp (naive UTC text) as an aware datetime."""
    return datetime.fromisoformat(text + "+00:00")


def stored(at: datetime) -> str:
    """An aware datetime as the store keeps it, so that text comparisons in SQL order it rightly."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def checkin_of(row: Iterable[Any]) -> r.CheckIn:
    """(id, at, context, posture, prompted, answered_by) as a check-in."""
    i, at, context, posture, prompted, by = row
    return r.CheckIn(i, utc(at), context, posture, bool(prompted), by)


def run_of(row: Iterable[Any]) -> r.Run:
    """(id, start, duration_s, distance_km, sport, source, moving_s) as a run."""
    i, at, seconds, km, sport, source, moving = row
    return r.Run(i, utc(at), timedelta(seconds=seconds), km, sport, source,
                 None if moving is None else timedelta(seconds=moving))


def soreness_of(row: Iterable[Any], moved: dict[str, str]) -> r.Soreness:
    """(id, at, upper_back, mid_back, lower_back, si_joint, run_id, form, si_pain_reported) as a
    report; one linked to a run since edited is linked to the run's newest version (`moved`)."""
    i, at, upper, mid, lower, si, run, form, pain = row
    return r.Soreness(i, utc(at), upper, mid, lower, si, moved.get(run, run), frozenset(filter(None, form.split(","))),
                      bool(pain))


def newest_versions(edits: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{id of an edited record: id of its newest version}, following edits of edits, from the
    (old id, new id) pairs of the edits' tombstones in the order they were made."""
    step = {str(old): str(new) for old, new in edits}
    out = {}
    for old in step:
        new, seen = step[old], {old}
        while new in step and new not in seen:
            seen.add(new)
            new = step[new]
        out[old] = new
    return out
