"""A backup may come from anywhere: before a restored copy replaces the database, every record in it
passes the same validation as a merged row and the command line (domain/validation.py); a row that
fails is deleted from the copy (the backup file itself is left as it is) and named in `restore`'s output.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posture_agent.domain import validation as v
from posture_agent.filenames import printable
from posture_agent.store import tables as t

CHECKED = ("runs", "checkins", "drill_completions", "circuits", "soreness_reports", "protocol_ends", "tombstones")
NAMED = 20
"""Refused rows named one by one (the count says how many in all)."""


@dataclass(frozen=True)
class RefusedRow:
    table: str
    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"table": self.table, "id": self.id, "reason": self.reason}


def _plain(table: str, names: list[str], values: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row as a synced file carries it: times as ISO 8601 with their UTC offset."""
    columns = t.metadata.tables[table].c
    row = {name: _text(value) for name, value in zip(names, values, strict=True)}
    for name, value in row.items():
        if name in columns and isinstance(columns[name].type, t.UTCDateTime) and isinstance(value, str):
            with contextlib.suppress(ValueError):  # else left as it is: the check names it
                row[name] = datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
    return row


def _text(value: Any) -> Any:
    """Text as str when it is valid UTF-8; else the bytes, which the check refuses as not text."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def refuse_invalid_rows(db_file: Path, now: datetime) -> list[RefusedRow]:
    """Delete from `db_file` (a copy about to be restored) the records that fail validation; them."""
    refused: list[RefusedRow] = []
    conn = sqlite3.connect(db_file)
    conn.text_factory = bytes
    try:
        conn.execute("PRAGMA foreign_keys = ON")  # a refused run's soreness reports keep their scores, not its id
        present = {_text(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in CHECKED:
            if table not in present:
                continue  # an older schema: the migration makes it
            cur = conn.execute(f'SELECT rowid, * FROM "{table}"')
            names = [d[0] for d in cur.description][1:]
            bad = []
            for rowid, *values in cur:
                row = _plain(table, names, tuple(values))
                try:
                    v.check_row(table, row, now)
                except v.Invalid as exc:
                    rid = row.get("id")
                    shown = printable(rid)[:36] if isinstance(rid, str) else f"rowid {rowid}"
                    refused.append(RefusedRow(table, shown, printable(str(exc))))
                    bad.append((rowid,))
            conn.executemany(f'DELETE FROM "{table}" WHERE rowid = ?', bad)
        conn.commit()
    finally:
        conn.close()
    return refused
