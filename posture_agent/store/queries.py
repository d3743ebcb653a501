"""Query functions: take a session, return plain records (`domain.records`), never ORM rows.

Every read takes a time range so that a week's query uses the `at`/`start` indexes and costs the
same whatever the size of the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from posture_agent.domain import records as r
from posture_agent.store import models as m


def meta(session: Session, key: str) -> str | None:
    row = session.get(m.Meta, key)
    return row.value if row else None


def created_at(session: Session) -> datetime | None:
    value = meta(session, "created_at")
    return datetime.fromisoformat(value) if value else None


def add(session: Session, row: Any, *, device: str, source: str, now: datetime) -> str:
    """Insert one record row, filling in the columns every record carries; returns its id."""
    row.id = row.id or m.new_id()
    row.created_at = now
    row.device = device
    row.source = source
    session.add(row)
    session.flush()
    return str(row.id)


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    cond = []
    if start is not None:
        cond.append(column >= start)
    if end is not None:
        cond.append(column < end)
    return cond


def checkins(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.CheckIn]:
    rows = session.scalars(
        select(m.CheckInRow).where(*_between(m.CheckInRow.at, start, end)).order_by(m.CheckInRow.at)
    )
    return [r.CheckIn(x.id, x.at, x.context, x.posture, x.prompted) for x in rows]


def drills(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.DrillDone]:
    rows = session.scalars(
        select(m.DrillRow).where(*_between(m.DrillRow.at, start, end)).order_by(m.DrillRow.at)
    )
    return [r.DrillDone(x.id, x.at, x.drill) for x in rows]


def circuits(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.Circuit]:
    rows = session.scalars(
        select(m.CircuitRow).where(*_between(m.CircuitRow.at, start, end)).order_by(m.CircuitRow.at)
    )
    return [r.Circuit(x.id, x.at, x.rounds) for x in rows]


def _run(x: m.RunRow) -> r.Run:
    return r.Run(
        x.id,
        x.start,
        timedelta(seconds=x.duration_s),
        x.distance_km,
        x.sport,
        x.source,
        timedelta(seconds=x.moving_s) if x.moving_s is not None else None,
    )


def runs(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.Run]:
    rows = session.scalars(
        select(m.RunRow).where(*_between(m.RunRow.start, start, end)).order_by(m.RunRow.start)
    )
    return [_run(x) for x in rows]


def run_by_prefix(session: Session, prefix: str) -> list[r.Run]:
    """Runs whose id starts with `prefix` (ids are shown shortened, like git's)."""
    rows = session.scalars(select(m.RunRow).where(m.RunRow.id.startswith(prefix.lower())).limit(2))
    return [_run(x) for x in rows]


def run_by_fingerprint(session: Session, fingerprint: str) -> r.Run | None:
    row = session.scalar(select(m.RunRow).where(m.RunRow.fingerprint == fingerprint))
    return _run(row) if row else None


def runs_overlapping(session: Session, start: datetime, end: datetime) -> list[r.Run]:
    """Runs that started within a day before `end` and overlap [start, end) (same run, two files)."""
    candidates = runs(session, start - timedelta(days=1), end)
    return [x for x in candidates if x.start < end and x.end > start]


def last_run_before(session: Session, at: datetime) -> r.Run | None:
    row = session.scalar(
        select(m.RunRow).where(m.RunRow.start <= at).order_by(m.RunRow.start.desc()).limit(1)
    )
    return _run(row) if row else None


def soreness(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.Soreness]:
    rows = session.scalars(
        select(m.SorenessRow).where(*_between(m.SorenessRow.at, start, end)).order_by(m.SorenessRow.at)
    )
    return [
        r.Soreness(
            x.id,
            x.at,
            x.upper_back,
            x.mid_back,
            x.lower_back,
            x.si_joint,
            x.run_id,
            frozenset(filter(None, x.form.split(","))),
            x.si_pain_reported,
        )
        for x in rows
    ]


def protocol_ends(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.ProtocolEnd]:
    rows = session.scalars(
        select(m.ProtocolEndRow).where(*_between(m.ProtocolEndRow.at, start, end)).order_by(m.ProtocolEndRow.at)
    )
    return [r.ProtocolEnd(x.id, x.at) for x in rows]


def prompts(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[r.PromptShown]:
    """Prompts shown with `due` in [start, end), by due time."""
    rows = session.scalars(
        select(m.PromptRow).where(*_between(m.PromptRow.due, start, end)).order_by(m.PromptRow.due)
    )
    return [r.PromptShown(x.id, x.kind, x.due, x.context, x.shown_at, x.outcome) for x in rows]


def open_prompts(session: Session) -> list[r.PromptShown]:
    rows = session.scalars(select(m.PromptRow).where(m.PromptRow.outcome.is_(None)).order_by(m.PromptRow.due))
    return [r.PromptShown(x.id, x.kind, x.due, x.context, x.shown_at, x.outcome) for x in rows]


def history(session: Session, start: datetime | None = None, end: datetime | None = None) -> r.History:
    """Every kind of record in [start, end), loaded at once for the rules and the reports."""
    return r.History(
        checkins=tuple(checkins(session, start, end)),
        drills=tuple(drills(session, start, end)),
        circuits=tuple(circuits(session, start, end)),
        runs=tuple(runs(session, start, end)),
        soreness=tuple(soreness(session, start, end)),
        protocol_ends=tuple(protocol_ends(session, start, end)),
        first_day=created_at(session),
    )


def counts(session: Session) -> dict[str, int]:
    """Rows per table, for `doctor`."""
    tables = {
        "checkins": m.CheckInRow,
        "drills": m.DrillRow,
        "circuits": m.CircuitRow,
        "runs": m.RunRow,
        "soreness": m.SorenessRow,
        "prompts": m.PromptRow,
    }
    return {name: session.scalar(select(func.count()).select_from(t)) or 0 for name, t in tables.items()}
