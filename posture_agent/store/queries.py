"""Query functions: take a connection, return plain records from
`domain.records`, never rows.

Every read takes a time range so that a week's query uses the `at`/`start` indexes and costs the
same whatever the size of the history. Every read of a record table leaves out the records taken
back (`tables.tombstones`, through `live`): figures, lists and counts never see them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import String, Table, and_, func, insert, literal_column, select, type_coerce
from sqlalchemy.engine import Connection, Row

from posture_agent.domain import records as r
from posture_agent.store import tables as t

Executor: TypeAlias = Connection


def meta(conn: Executor, key: str) -> str | None:
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
    return None if value is None else str(value)


def created_at(conn: Executor) -> datetime | None:
    value = meta(conn, "created_at")
    return datetime.fromisoformat(value) if value else None


def live(table: Table) -> Any:
    """The condition "not taken back": the record's id is named by no tombstone, and it is not the
    losing version of a record edited on two computers before they merged."""
    return and_(table.c.id.not_in(select(t.tombstones.c.record_id)), table.c.id.not_in(superseded_versions()))


def superseded_versions() -> Any:
    """New versions that lost to a later edit of the same record: edits merge by last writer (the
    edit's time, then its device id, as PRODUCT.md's data rules say). An edit is a tombstone of the
    old version that names the new one; when two computers edited the same version, the tombstone
    with the greater (created_at, device) wins and the other's new version is left out everywhere.
    A losing version edited again before the merge is not followed: its own newer version stays."""
    mine, other = t.tombstones.alias("mine"), t.tombstones.alias("other")
    later = (other.c.created_at > mine.c.created_at) | (
        (other.c.created_at == mine.c.created_at) & (other.c.device > mine.c.device)
    )
    beaten = (
        select(other.c.id)
        .where(other.c.record_id == mine.c.record_id, other.c.replaced_by.is_not(None), later)
        .exists()
    )
    return select(mine.c.replaced_by).where(mine.c.replaced_by.is_not(None), beaten)


def first_record_at(conn: Executor) -> datetime | None:
    """The earliest time of any record (each an indexed MIN): history typed in or imported from
    before the install moves the start of planning back to it."""
    columns = (t.checkins.c.at, t.drill_completions.c.at, t.circuits.c.at, t.runs.c.start, t.soreness_reports.c.at)
    firsts = [conn.execute(select(func.min(col)).where(live(col.table))).scalar() for col in columns]
    return min((x for x in firsts if x is not None), default=None)


def add(conn: Executor, table: Table, values: dict[str, Any], *, device: str, source: str, now: datetime) -> str:
    """Insert one record, filling in the columns every record carries; returns its id."""
    rid = values.get("id") or t.new_id()
    conn.execute(insert(table).values(**values, id=rid, created_at=now, device=device, source=source))
    return str(rid)


def _rows(conn: Executor, table: Table, column: str, start: datetime | None, end: datetime | None) -> list[Row[Any]]:
    col = table.c[column]
    stmt = select(table).where(live(table))
    if start is not None:
        stmt = stmt.where(col >= start)
    if end is not None:
        stmt = stmt.where(col < end)
    return list(conn.execute(stmt.order_by(col)))


def checkins(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.CheckIn]:
    return [r.CheckIn(x.id, x.at, x.context, x.posture, x.prompted, x.answered_by)
            for x in _rows(conn, t.checkins, "at", start, end)]


def _utc(text: str) -> datetime:
    """A stored timestamp (naive UTC text) as an aware datetime, parsed in C rather than by regex."""
    return datetime.fromisoformat(text + "+00:00")


def answered_checkins(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.CheckIn]:
    """Answered check-ins only, timestamps read as text and parsed here: the trends read years of
    them at once, and SQLAlchemy's per-row datetime processing would cost several times more."""
    c = t.checkins.c
    stmt = select(c.id, type_coerce(c.at, String), c.context, c.posture, c.answered_by).where(
        c.posture.in_(r.POSTURES), live(t.checkins))
    if start is not None:
        stmt = stmt.where(c.at >= start)
    if end is not None:
        stmt = stmt.where(c.at < end)
    return [r.CheckIn(i, _utc(a), ctx, p, by=by) for i, a, ctx, p, by in conn.execute(stmt.order_by(c.at))]


def drills(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.DrillDone]:
    return [r.DrillDone(x.id, x.at, x.drill) for x in _rows(conn, t.drill_completions, "at", start, end)]


def circuits(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.Circuit]:
    return [r.Circuit(x.id, x.at, x.rounds) for x in _rows(conn, t.circuits, "at", start, end)]


def _run(x: Row[Any]) -> r.Run:
    return r.Run(
        x.id,
        x.start,
        timedelta(seconds=x.duration_s),
        x.distance_km,
        x.sport,
        x.source,
        timedelta(seconds=x.moving_s) if x.moving_s is not None else None,
    )


def runs(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.Run]:
    return [_run(x) for x in _rows(conn, t.runs, "start", start, end)]


def run_by_prefix(conn: Executor, prefix: str) -> list[r.Run]:
    """Runs whose id starts with `prefix` (ids are shown shortened, like git's)."""
    stmt = select(t.runs).where(t.runs.c.id.startswith(prefix.lower(), autoescape=True), live(t.runs))
    rows = conn.execute(stmt.limit(2))
    return [_run(x) for x in rows]


def run_by_fingerprint(conn: Executor, fingerprint: str) -> r.Run | None:
    """The run stored for an activity file, also when it was deleted since: a deleted run's file is
    not imported again (the folder watch, or the same file given twice, never brings it back)."""
    row = conn.execute(select(t.runs).where(t.runs.c.fingerprint == fingerprint)).first()
    return _run(row) if row else None


def runs_overlapping(conn: Executor, start: datetime, end: datetime) -> list[r.Run]:
    """Runs that started within a day before `end` and overlap [start, end) (same run, two files)."""
    candidates = runs(conn, start - timedelta(days=1), end)
    return [x for x in candidates if x.start < end and x.end > start]


def last_run_before(conn: Executor, at: datetime) -> r.Run | None:
    stmt = select(t.runs).where(t.runs.c.start <= at, live(t.runs))
    row = conn.execute(stmt.order_by(t.runs.c.start.desc()).limit(1)).first()
    return _run(row) if row else None


def run_replacements(conn: Executor) -> dict[str, str]:
    """{id of an edited run: id of its newest version}, following edits of edits."""
    tb = t.tombstones.c
    stmt = select(tb.record_id, tb.replaced_by).where(tb.record_table == "runs", tb.replaced_by.is_not(None))
    step = {str(old): str(new) for old, new in conn.execute(stmt.order_by(tb.created_at, tb.id))}
    out = {}
    for old in step:
        new, seen = step[old], {old}
        while new in step and new not in seen:
            seen.add(new)
            new = step[new]
        out[old] = new
    return out


def soreness(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.Soreness]:
    """Soreness reports; one linked to a run since edited is linked to the run's new version."""
    moved = run_replacements(conn)
    return [
        r.Soreness(
            x.id, x.at, x.upper_back, x.mid_back, x.lower_back, x.si_joint, moved.get(x.run_id, x.run_id),
            frozenset(filter(None, x.form.split(","))), x.si_pain_reported,
        )
        for x in _rows(conn, t.soreness_reports, "at", start, end)
    ]


def protocol_ends(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.ProtocolEnd]:
    return [r.ProtocolEnd(x.id, x.at) for x in _rows(conn, t.protocol_ends, "at", start, end)]


def history(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> r.History:
    """Every kind of record in [start, end), loaded at once for the rules and the reports."""
    return r.History(
        checkins=tuple(checkins(conn, start, end)),
        drills=tuple(drills(conn, start, end)),
        circuits=tuple(circuits(conn, start, end)),
        runs=tuple(runs(conn, start, end)),
        soreness=tuple(soreness(conn, start, end)),
        protocol_ends=tuple(protocol_ends(conn, start, end)),
        first_day=created_at(conn),
    )


def counts(conn: Executor) -> dict[str, int]:
    """Records per table, for `doctor` (those taken back left out, and counted as `taken_back`)."""
    tables = {
        "checkins": t.checkins, "drills": t.drill_completions, "circuits": t.circuits, "runs": t.runs,
        "soreness": t.soreness_reports,
    }
    out = {name: conn.execute(select(func.count()).select_from(tb).where(live(tb))).scalar() or 0
           for name, tb in tables.items()}
    out["prompts"] = conn.execute(select(func.count()).select_from(t.prompts)).scalar() or 0
    out["taken_back"] = conn.execute(select(func.count(func.distinct(t.tombstones.c.record_id)))).scalar() or 0
    return out


def import_index(conn: Executor) -> dict[str, tuple[int, int]]:
    """Every file the folder watch has seen: path → (size, mtime_ns)."""
    f = t.import_files.c
    return {path: (size, mtime_ns) for path, size, mtime_ns in conn.execute(select(f.path, f.size, f.mtime_ns))}


def remember_import(
    conn: Executor, path: str, size: int, mtime_ns: int, status: str, detail: str, now: datetime,
) -> None:
    """Record (or update) the outcome of a file the folder watch has read."""
    from sqlalchemy.dialects.sqlite import insert as upsert

    values = {"path": path, "size": size, "mtime_ns": mtime_ns, "status": status, "detail": detail, "scanned_at": now}
    stmt = upsert(t.import_files).values(**values)
    changed = {k: v for k, v in values.items() if k != "path"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["path"], set_=changed))


def _prompt(x: Row[Any]) -> r.PromptShown:
    return r.PromptShown(x.id, x.kind, x.due, x.context, x.shown_at, x.outcome)


def prompts(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.PromptShown]:
    """Prompts shown with `due` in [start, end), by due time."""
    return [_prompt(x) for x in _rows(conn, t.prompts, "due", start, end)]


def open_prompts(conn: Executor) -> list[r.PromptShown]:
    rows = conn.execute(select(t.prompts).where(t.prompts.c.outcome.is_(None)).order_by(t.prompts.c.due))
    return [_prompt(x) for x in rows]


def close_prompt(conn: Executor, prompt_id: str, outcome: str) -> bool:
    """Set how an open prompt ended; False when it does not exist or was already closed."""
    from sqlalchemy import update

    p = t.prompts.c
    stmt = update(t.prompts).where(p.id == prompt_id, p.outcome.is_(None)).values(outcome=outcome)
    return bool(getattr(conn.execute(stmt), "rowcount", 0))


# --- taking records back ----------------------------------------------------------------------

UNDOABLE: dict[str, Table] = {
    "checkins": t.checkins, "drill_completions": t.drill_completions, "circuits": t.circuits,
    "runs": t.runs, "soreness_reports": t.soreness_reports,
}
"""The record tables `undo` takes back from, by table name."""


def bury(
    conn: Executor, table: Table, ids: list[str], *, device: str, source: str, now: datetime,
    replaced_by: str | None = None,
) -> None:
    """Write a tombstone for each record id (the records themselves stay, read by nobody)."""
    for rid in ids:
        values = {"record_table": table.name, "record_id": rid, "replaced_by": replaced_by}
        add(conn, t.tombstones, values, device=device, source=source, now=now)


def taken_back(conn: Executor, rid: str) -> bool:
    """Whether a tombstone names this record."""
    return conn.execute(select(t.tombstones.c.id).where(t.tombstones.c.record_id == rid).limit(1)).first() is not None


def edited_from(conn: Executor, run_id: str, made_at: datetime) -> str | None:
    """The id of the run that `run_id` is the edited version of, or None: the edit's tombstone,
    written at the same instant as the new version (an undo's restored copy keeps its original's
    creation time, so undoing it later takes the run back instead of redoing the edit)."""
    tb = t.tombstones.c
    stmt = select(tb.record_id).where(tb.replaced_by == run_id, tb.created_at == made_at)
    value = conn.execute(stmt.limit(1)).scalar()
    return None if value is None else str(value)


def any_row(conn: Executor, table: Table, rid: str) -> dict[str, Any] | None:
    """Every column of one record, live or taken back (an edited run's earlier version)."""
    row = conn.execute(select(table).where(table.c.id == rid)).first()
    return None if row is None else dict(row._mapping)


def record_by_id(conn: Executor, table: Table, rid: str) -> Any:
    """The plain record with this id, live or taken back (KeyError when there is none)."""
    row = conn.execute(select(table).where(table.c.id == rid)).first()
    if row is None:
        raise KeyError(rid)
    return record_of(table, row)


def _undoable(table: Table, device_suffix: str) -> list[Any]:
    cond = [live(table), table.c.device.endswith(device_suffix, autoescape=True)]
    if table is t.checkins:
        cond.append(table.c.posture != "missed")
    if table is t.runs:
        cond.append(table.c.source != "import")
    return cond


def last_own(conn: Executor, device_suffix: str) -> tuple[Table, list[Row[Any]]] | None:
    """The last record this device made by hand or in a prompt, still live, and every record written
    with it (`drill done a b` is one action): (its table, its rows), or None. Left out: the `missed`
    check-ins the agent writes on its own and imported runs (taken back with `run delete`)."""
    rowid: Any = literal_column("rowid")
    best: tuple[datetime, int, Table] | None = None
    for order, table in enumerate(UNDOABLE.values()):
        stmt = select(table.c.created_at).where(*_undoable(table, device_suffix))
        found = conn.execute(stmt.order_by(table.c.created_at.desc(), rowid.desc()).limit(1)).scalar()
        if found is not None and (best is None or (found, order) > best[:2]):
            best = (found, order, table)
    if best is None:
        return None
    table = best[2]
    stmt = select(table).where(*_undoable(table, device_suffix), table.c.created_at == best[0])
    return table, list(conn.execute(stmt.order_by(rowid)))


def record_of(table: Table, x: Row[Any]) -> Any:
    """A row of a record table as its plain record (`domain.records`)."""
    if table is t.checkins:
        return r.CheckIn(x.id, x.at, x.context, x.posture, x.prompted, x.answered_by)
    if table is t.drill_completions:
        return r.DrillDone(x.id, x.at, x.drill)
    if table is t.circuits:
        return r.Circuit(x.id, x.at, x.rounds)
    if table is t.runs:
        return _run(x)
    if table is t.soreness_reports:
        return r.Soreness(
            x.id, x.at, x.upper_back, x.mid_back, x.lower_back, x.si_joint, x.run_id,
            frozenset(filter(None, x.form.split(","))), x.si_pain_reported,
        )
    raise KeyError(table.name)
