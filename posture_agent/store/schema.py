"""The schema objects a posture-agent database may hold, and those in a file that are not ours.

A backup may come from anywhere. SQLite keeps triggers, views and virtual tables in the file itself,
and runs them as the app writes: a restored backup carrying `CREATE TRIGGER … DELETE FROM runs`
would delete every run at the next check-in while the file passes `integrity_check`. So a restore
accepts only the schema the migrations make at the file's revision, object for object and statement
for statement (tables with their columns and constraints, indexes), and `doctor` says when the live
database holds anything else.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine

from posture_agent.store import sqlite_file
from posture_agent.store.migrate import make_schema

SchemaObject = tuple[str, str, str, str | None]
"""`type, name, tbl_name, sql` as `sqlite_master` holds them."""
ARTICLE = {"index": "an"}


def objects_in(conn: sqlite3.Connection) -> list[SchemaObject]:
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    return [(str(kind), str(name), str(table), None if sql is None else str(sql)) for kind, name, table, sql in rows]


@functools.cache
def made_at(revision: str) -> dict[tuple[str, str], SchemaObject]:
    """What the migrations leave at `revision`, by (type, name); made once per process in memory."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            make_schema(conn, revision)
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            return {(o[0], o[1]): o for o in objects_in(raw)}
    finally:
        engine.dispose()


def _normal(sql: str | None) -> str | None:
    """The statement with its layout and identifier quoting left out (kept as typed, SQLite does not
    rewrite it; the same schema written by another SQLAlchemy may be spaced or quoted differently)."""
    if sql is None:
        return None
    plain = " ".join(sql.replace('"', "").split())
    return re.sub(r"\s*([(),])\s*", r"\1", plain)


def _described(obj: SchemaObject, article: bool = True) -> str:
    """E.g. "a trigger 'wipe' on 'runs'" (or without the article)."""
    kind, name, table, sql = obj
    if kind == "table" and sql is not None and sql.lstrip().upper().startswith("CREATE VIRTUAL"):
        kind = "virtual table"
    on = f" on {table!r}" if kind in ("trigger", "index") else ""
    return (f"{ARTICLE.get(kind, 'a')} " if article else "") + f"{kind} {name!r}{on}"


def foreign_objects(conn: sqlite3.Connection, revision: str) -> list[str]:
    """Each schema object in the database that the migrations do not make at `revision` (a trigger,
    a view, a virtual or extra table, an extra index), or make differently, or that is missing; as
    words for one line. Empty: the schema is exactly ours."""
    expected = made_at(revision)
    found = {(o[0], o[1]): o for o in objects_in(conn)}
    problems = []
    for key, obj in found.items():
        ours = expected.get(key)
        if ours is None:
            problems.append(f"{_described(obj)} that posture-agent does not make")
        elif _normal(ours[3]) != _normal(obj[3]) or ours[2] != obj[2]:
            problems.append(f"{_described(obj)} unlike posture-agent's")
    problems += [f"no {_described(obj, article=False)}" for key, obj in expected.items() if key not in found]
    return problems


def foreign_objects_in_file(db_file: Path, revision: str) -> list[str]:
    """`foreign_objects` of the file, opened read-only (raises sqlite3.DatabaseError)."""
    conn = sqlite_file.connect(db_file)
    try:
        return foreign_objects(conn, revision)
    finally:
        conn.close()


def one_line(problems: list[str]) -> str:
    """The first problem, and how many more."""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more schema object{'s' if more > 1 else ''})" if more else "")
