"""Query functions for sharing the history between devices (posture_agent/sync): this device's new
records since a cursor, other devices' records inserted by UUID, and the sync state, kept in the
`meta` table so that applying a file and remembering it happen in one transaction.

Only user records travel. `prompts` (which device showed which notification) and `import_files`
(which files this computer's folder watch read) describe one computer, not the user's history.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as upsert
from sqlalchemy.engine import Connection

from posture_agent.store import tables as t

SHARED: dict[str, Table] = {
    "runs": t.runs,  # first: soreness reports point at runs
    "checkins": t.checkins,
    "drill_completions": t.drill_completions,
    "circuits": t.circuits,
    "soreness_reports": t.soreness_reports,
    "protocol_ends": t.protocol_ends,
    "tombstones": t.tombstones,  # records taken back: travel like any record, so a merge never revives one
}
"""The tables whose rows go to the shared folder, in the order a file's rows are applied."""


def to_plain(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready values (times as ISO 8601 UTC)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _stored_time(value: str) -> str:
    """An ISO 8601 time as the store keeps it: naive UTC text with microseconds, the form
    SQLAlchemy writes and every range query compares against."""
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(f"time without an offset: {value!r}")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _converters(table: Table) -> list[tuple[str, Any, Any]]:
    """Per column: its name, the default for a file that lacks it (an older schema), how to store it."""
    out = []
    for col in table.c:
        scalar = col.default is not None and getattr(col.default, "is_scalar", False)
        default = col.default.arg if scalar else None  # type: ignore[union-attr]
        out.append((col.name, default, _stored_time if isinstance(col.type, t.UTCDateTime) else None))
    return out


def from_plain(table: Table, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows read from a file as parameter tuples in the table's column order: times as stored,
    columns this schema lacks left out, columns the file lacks (an older schema) given their
    default. Bound straight to SQLite: for ten years of another device's history SQLAlchemy's
    per-value processing cost more than the rest of the merge (benchmarks/sync_bench.py)."""
    columns = _converters(table)
    out = []
    for row in rows:
        values = []
        for name, default, convert in columns:
            value = row.get(name, default)
            values.append(convert(value) if convert is not None and value is not None else value)
        out.append(tuple(values))
    return out


RECEIVED_OWN = "sync.received_own"
"""Ids of rows merged from another computer's file although stamped with this device's id (a home
restored onto a second computer, or a forged row): never exported again as this device's own."""


def own_rows_since(
    conn: Connection, table: Table, after_rowid: int, device_ids: list[str], limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` rows written by this device (its current or former ids) after a rowid, and
    the rowid to continue from. Rowids, not creation times: a clock set back must not hide a record."""
    rowid: Any = literal_column("rowid")
    top = last_rowid(conn, table)
    mine = _created_here(table, device_ids)
    stmt = select(rowid, table).where(rowid > after_rowid, mine).order_by(rowid).limit(limit)
    rows, last = [], after_rowid
    for row in conn.execute(stmt):
        values = dict(row._mapping)
        last = int(values.pop("rowid"))
        rows.append(to_plain(table, values))
    return rows, (last if len(rows) == limit else top)


def _created_here(table: Table, device_ids: list[str]) -> Any:
    """Rows stamped by one of these device ids (the journal stamps `name:id`; the name may change)
    that this database created, not merged from another computer's file."""
    stamped = or_(*(table.c.device.endswith(f":{d}", autoescape=True) for d in device_ids))
    return and_(stamped, not_received(table))


def not_received(table: Table) -> Any:
    """Rows not merged from another computer's file under this device's id (RECEIVED_OWN)."""
    return text(f'"{table.name}".id NOT IN (SELECT value FROM json_each(COALESCE('
                f"(SELECT value FROM meta WHERE key = '{RECEIVED_OWN}'), '[]')))")


def count_own_since(conn: Connection, table: Table, after_rowid: int, device_ids: list[str]) -> int:
    rowid: Any = literal_column("rowid")
    mine = _created_here(table, device_ids)
    return int(conn.execute(select(func.count()).select_from(table).where(rowid > after_rowid, mine)).scalar() or 0)


def last_rowid(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(literal_column("max(rowid)")).select_from(table)).scalar() or 0)


def existing_ids(conn: Connection, table: Table, ids: list[str]) -> set[str]:
    """Which of `ids` the table already holds."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        chunk = ids[i:i + 500]
        found.update(str(x) for x in conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose UUID is not here yet (a record is written once and never changes);
    returns how many were new."""
    if not rows:
        return 0
    have = existing_ids(conn, table, [r["id"] for r in rows])
    new = from_plain(table, [r for r in rows if r["id"] not in have])
    if new:
        names = ", ".join(f'"{c.name}"' for c in table.c)
        marks = ", ".join("?" for _ in table.c)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', new)
    return len(new)


class RowWriter:
    """Another computer's rows written one at a time through SQLite's own cursor inside the caller's
    transaction, so that a row the database refuses (a constraint) is refused alone; SQLAlchemy's
    per-statement cost would triple the merge of a big file (benchmarks/sync_bench.py)."""

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        self.cursor = raw.cursor()
        self.cursor.execute("PRAGMA defer_foreign_keys = ON")  # a file's report may come before its run
        self._sql: dict[str, tuple[list[str], list[tuple[str, Any, Any]], str, str, str]] = {}

    def _statements(self, table: Table) -> tuple[list[str], list[tuple[str, Any, Any]], str, str, str]:
        """Per table, once: its column names, converters, and the insert, select and update."""
        if table.name not in self._sql:
            names = [c.name for c in table.c]
            quoted = ", ".join(f'"{n}"' for n in names)
            marks = ", ".join("?" for _ in names)
            sets = ", ".join(f'"{n}" = ?' for n in names if n != "id")
            self._sql[table.name] = (
                names, _converters(table),
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks}) ON CONFLICT(id) DO NOTHING',
                f'SELECT {quoted} FROM "{table.name}" WHERE id = ?',
                f'UPDATE "{table.name}" SET {sets} WHERE id = ?',
            )
        return self._sql[table.name]

    def put(self, table: Table, row: dict[str, Any]) -> str:
        """Insert `row` if its id is new ("new"); the same row already here: "same"; another row
        under that id: the later by (created_at, device, content) is kept everywhere ("theirs" when
        the incoming one replaced the row here, "ours" when the row here stays). Raises
        sqlite3.IntegrityError when the database refuses it (nothing written)."""
        names, converters, insert_sql, select_sql, update_sql = self._statements(table)
        values = [
            convert(value) if convert is not None and value is not None else value
            for name, default, convert in converters for value in (row.get(name, default),)
        ]
        if self.cursor.execute(insert_sql, values).rowcount == 1:
            return "new"
        here = self.cursor.execute(select_sql, (row["id"],)).fetchone()
        if all(a == b for a, b in zip(here, values, strict=True)):
            return "same"
        if _writer_key(names, values) <= _writer_key(names, here):
            return "ours"
        self.cursor.execute(update_sql, [v for n, v in zip(names, values, strict=True) if n != "id"] + [row["id"]])
        return "theirs"

    def dangling_reports(self) -> list[str]:
        """Soreness reports written in this transaction whose run is not here (its row was
        refused): deleted, so the rest of the file can still be committed; their ids."""
        bad = self.cursor.execute("PRAGMA foreign_key_check(soreness_reports)").fetchall()
        ids = []
        for _, rowid, *_ in bad:
            found = self.cursor.execute("SELECT id FROM soreness_reports WHERE rowid = ?", (rowid,)).fetchone()
            if found:
                ids.append(str(found[0]))
            self.cursor.execute("DELETE FROM soreness_reports WHERE rowid = ?", (rowid,))
        return ids


def _writer_key(names: list[str], values: Any) -> tuple[str, str, str]:
    """The last-writer order of two versions of one record: created_at, then device, then content."""
    row = dict(zip(names, values, strict=True))
    return str(row.get("created_at")), str(row.get("device")), json.dumps(list(values), default=str)


IntegrityError = sqlite3.IntegrityError


def run_for_fingerprint(conn: Connection, fingerprint: str) -> str | None:
    """The run already here for an activity file (both computers imported the same file)."""
    value = conn.execute(select(t.runs.c.id).where(t.runs.c.fingerprint == fingerprint)).scalar()
    return None if value is None else str(value)


def ids_of(conn: Connection, table: Table, ids: set[str]) -> set[str]:
    return existing_ids(conn, table, sorted(ids))


SYNC_FOLDER = "sync.folder"
"""The state key naming the folder this device syncs through: absent, sync is not set up."""


def read_state(conn: Connection, key: str) -> Any:
    """A JSON value of the sync state, None when absent."""
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
    return None if value is None else json.loads(value)


def write_state(conn: Connection, key: str, value: Any) -> None:
    stmt = upsert(t.meta).values(key=key, value=json.dumps(value, sort_keys=True))
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))


def delete_state(conn: Connection, key: str) -> None:
    conn.execute(delete(t.meta).where(t.meta.c.key == key))


def state_keys(conn: Connection, prefix: str) -> list[str]:
    rows = conn.execute(select(t.meta.c.key).where(t.meta.c.key.startswith(prefix, autoescape=True)))
    return [str(k) for k in rows.scalars()]


def take_write_lock(conn: Connection) -> None:
    """Start the transaction with a write, so that it holds SQLite's write lock (waiting for it
    up to the busy timeout) before it reads: two processes' rounds then run one after the other."""
    conn.execute(update(t.meta).where(t.meta.c.key == "device_id").values(value=t.meta.c.value))


def read_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
    return None if value is None else str(value)


def set_meta(conn: Connection, key: str, value: str) -> None:
    stmt = upsert(t.meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))
