"""Query functions: take a connection, return plain records from
`domain.records`, never rows.

Every read takes a time range so that a week's query uses the `at`/`start` indexes and costs the
same whatever the size of the history. Every read of a record table leaves out the records taken
back (`tables.tombstones`, through `live`): figures, lists and counts never see them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import String, Table, and_, case, func, insert, literal_column, or_, select, type_coerce
from sqlalchemy.engine import Connection, Row

from posture_agent.domain import records as r
from posture_agent.domain.exposure import RunFacts
from posture_agent.domain.sources import PAIR_WINDOW, SOURCES
from posture_agent.store import tables as t
from posture_agent.store.rows import checkin_of, newest_versions, run_of, soreness_of, utc
from posture_agent.store.sharing import not_received

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


def first_at(conn: Executor, table: Table) -> datetime | None:
    """The time of a record table's earliest live record (an indexed MIN): a habit typed in (`--at`)
    from before the install is planned from its own first record (PRODUCT.md §3)."""
    value = conn.execute(select(func.min(table.c.at)).where(live(table))).scalar()
    return value if value is None or isinstance(value, datetime) else utc(str(value))


def add(conn: Executor, table: Table, values: dict[str, Any], *, device: str, source: str, now: datetime) -> str:
    """Insert one record, filling in the columns every record carries; returns its id."""
    rid = values.get("id") or t.new_id()
    conn.execute(insert(table).values(**{**values, "id": rid}, created_at=now, device=device, source=source))
    return str(rid)


def _rows(conn: Executor, table: Table, column: str, start: datetime | None, end: datetime | None) -> list[Row[Any]]:
    col = table.c[column]
    return list(conn.execute(_between(select(table).where(live(table)), col, start, end).order_by(col)))


def checkins(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.CheckIn]:
    """Check-ins in [start, end), times parsed here (a page reads a year of them)."""
    c = t.checkins.c
    stmt = _between(select(c.id, type_coerce(c.at, String), c.context, c.posture, c.prompted, c.answered_by).where(
        live(t.checkins)), c.at, start, end).order_by(c.at)
    return [checkin_of(row) for row in conn.execute(stmt)]


def camera_span(conn: Executor, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    """The first and last camera check-in in [start, end), or None: most histories have none, and
    the camera's agreement then needs no check-in fetched at all."""
    c = t.checkins.c
    stmt = _between(select(type_coerce(func.min(c.at), String), type_coerce(func.max(c.at), String)).where(
        live(t.checkins), c.answered_by == "camera"), c.at, start, end)
    first, last = conn.execute(stmt).one()
    return None if first is None else (utc(first), utc(last))


def _between(stmt: Any, col: Any, start: datetime | None, end: datetime | None) -> Any:
    """`stmt` limited to start <= col < end (either end open when None)."""
    if start is not None:
        stmt = stmt.where(col >= start)
    if end is not None:
        stmt = stmt.where(col < end)
    return stmt


def exposures(conn: Executor, start: datetime | None = None, end: datetime | None = None, source: str = "all",
              ) -> dict[str, tuple[int, int]]:
    """{run id: (answered, slouched)} over the answered check-ins in the 48 h before each run starting
    in [start, end), counted by SQLite through the `at` index: the trends need these two numbers
    per run, not the tens of thousands of check-ins behind them. `source`: the check-ins counted
    (domain/sources.py)."""
    c, runs = t.checkins.c, t.runs.c
    window_start = func.strftime("%Y-%m-%d %H:%M:%f", runs.start, "-48 hours")
    joined = t.runs.join(t.checkins, and_(
        type_coerce(c.at, String) >= window_start, c.at < runs.start, c.posture.in_(r.POSTURES), live(t.checkins),
        counted_source(source)))
    stmt = _between(select(runs.id, func.count(c.id), func.sum(case((c.posture == "slouched", 1), else_=0)))
                    .select_from(joined).where(live(t.runs)), runs.start, start, end).group_by(runs.id)
    return {str(i): (int(n), int(k or 0)) for i, n, k in conn.execute(stmt)}


def run_facts(conn: Executor, end: datetime, source: str = "all") -> RunFacts:
    """What the trends are computed from, over all history before `end` (store/reads.py reads the
    same without SQLAlchemy for the `trends` command)."""
    return RunFacts(runs(conn, None, end), exposures(conn, None, end, source), soreness(conn, None, end))


def counted_source(source: str) -> Any:
    """The condition on a check-in of counting for `source`, as `domain.sources.by_source` decides:
    "user" or "camera" alone; "all" leaves out a camera check-in that a user's answer in its context
    within PAIR_WINDOW overrules. A lone source is compared as `answered_by || ''`: on the bare
    column SQLite indexed `answered_by` on the fly and scanned every check-in for each run (48 s on
    ten years for "user" instead of the 48 h before each run through the `at` index)."""
    c = t.checkins.c
    if source in ("user", "camera"):
        return c.answered_by.concat("") == source
    if source != "all":
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    u = t.checkins.alias("users")
    window = PAIR_WINDOW.total_seconds() / 86400
    overruled = select(u.c.id).where(
        u.c.answered_by == "user", u.c.context == c.context, u.c.posture.in_(r.POSTURES),
        func.abs(func.julianday(u.c.at) - func.julianday(c.at)) <= window,
        u.c.id.not_in(select(t.tombstones.c.record_id))).exists()
    return or_(c.answered_by == "user", ~overruled)


def drills(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.DrillDone]:
    """Drill ticks, timestamps parsed here (the habit figures read years of them at once)."""
    c = t.drill_completions.c
    stmt = _between(select(c.id, type_coerce(c.at, String), c.drill).where(live(t.drill_completions)), c.at, start, end)
    return [r.DrillDone(i, utc(a), name) for i, a, name in conn.execute(stmt.order_by(c.at))]


def circuits(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.Circuit]:
    c = t.circuits.c
    stmt = _between(select(c.id, type_coerce(c.at, String), c.rounds).where(live(t.circuits)), c.at, start, end)
    return [r.Circuit(i, utc(a), rounds) for i, a, rounds in conn.execute(stmt.order_by(c.at))]


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
    """Runs starting in [start, end), times parsed here (the trends read years of them)."""
    c = t.runs.c
    cols = (c.id, type_coerce(c.start, String), c.duration_s, c.distance_km, c.sport, c.source, c.moving_s)
    stmt = _between(select(*cols).where(live(t.runs)), c.start, start, end).order_by(c.start)
    return [run_of(row) for row in conn.execute(stmt)]


def run_by_prefix(conn: Executor, prefix: str) -> list[r.Run]:
    """Runs whose id starts with `prefix` (ids are shown shortened, like git's)."""
    stmt = select(t.runs).where(t.runs.c.id.startswith(prefix.lower(), autoescape=True), live(t.runs))
    rows = conn.execute(stmt.limit(2))
    return [_run(x) for x in rows]


def run_edited_into(conn: Executor, prefix: str) -> r.Run | None:
    """The live run that the edits of a run whose id starts with `prefix` led to (a full id a script
    kept from before `run edit` still finds the run)."""
    ids = [row.replaced_by for row in conn.execute(
        select(t.tombstones.c.replaced_by).where(
            t.tombstones.c.record_id.startswith(prefix.lower(), autoescape=True),
            t.tombstones.c.record_table == t.runs.name, t.tombstones.c.replaced_by.is_not(None),
        ).limit(2)
    )]
    for _ in range(100):  # an edit of an edit…: follow the chain to the live version
        if len(ids) != 1:
            return None
        found = run_by_prefix(conn, ids[0])
        if found:
            return found[0]
        ids = [row.replaced_by for row in conn.execute(
            select(t.tombstones.c.replaced_by).where(t.tombstones.c.record_id == ids[0],
                                                     t.tombstones.c.replaced_by.is_not(None)).limit(2))]
    return None


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
    return newest_versions(conn.execute(stmt.order_by(tb.created_at, tb.id)).tuples())


def soreness(conn: Executor, start: datetime | None = None, end: datetime | None = None) -> list[r.Soreness]:
    """Soreness reports; one linked to a run since edited is linked to the run's new version."""
    moved = run_replacements(conn)
    c = t.soreness_reports.c
    cols = (c.id, type_coerce(c.at, String), c.upper_back, c.mid_back, c.lower_back, c.si_joint, c.run_id, c.form,
            c.si_pain_reported)
    stmt = _between(select(*cols).where(live(t.soreness_reports)), c.at, start, end).order_by(c.at)
    return [soreness_of(row, moved) for row in conn.execute(stmt)]


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
    cond = [live(table), table.c.device.endswith(device_suffix, autoescape=True), not_received(table)]
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
