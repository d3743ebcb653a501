"""Write posture_agent/store/fresh.py again from the migrations, after adding one.

A new database gets the head schema in one step from that module instead of running Alembic (see
its docstring); this replays `alembic upgrade head` on an empty file and records what
`sqlite_master` then holds. tests/test_store.py checks the module is current.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from posture_agent.store import fresh
from posture_agent.store.migrate import alembic_config

FRESH = Path(fresh.__file__)


def schema_of(db_file: Path) -> list[tuple[str, str, str, str | None]]:
    """type, name, table and SQL of every schema object, in the order they were made."""
    conn = sqlite3.connect(db_file)
    try:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    finally:
        conn.close()


def migrated_schema() -> tuple[str, list[tuple[str, str, str, str | None]]]:
    """The head revision and the schema `alembic upgrade head` makes on an empty file."""
    cfg = alembic_config()
    with tempfile.TemporaryDirectory() as folder:
        db_file = Path(folder) / "head.db"
        engine = create_engine(f"sqlite:///{db_file}")
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()
        head = ScriptDirectory.from_config(cfg).get_current_head()
        assert head is not None
        return head, schema_of(db_file)


def _wrapped(line: str, width: int = 90) -> list[str]:
    """A long line (a column added by ALTER TABLE lands on its table's line) cut after commas, so the
    module stays within the line length; the pieces join back to the same text."""
    parts: list[str] = []
    while len(line) > width and ", " in line[:width]:
        cut = line.rindex(", ", 0, width) + 2
        parts.append(line[:cut])
        line = line[cut:]
    return [*parts, line]


def _write_module() -> None:
    head, schema = migrated_schema()
    source = FRESH.read_text(encoding="utf-8")
    before, rest = source.split('REVISION = "', 1)
    after = rest.split("\n)\n", 1)[1]
    lines = [f'REVISION = "{head}"', "", "STATEMENTS = ("]
    statements = [sql for _, _, _, sql in schema if sql is not None]
    for sql in statements:
        pieces = [part for line in sql.splitlines(keepends=True) for part in _wrapped(line)]
        if len(pieces) == 1:
            lines.append(f"    {sql!r},")
        else:
            lines += ["    (", *(f"        {piece!r}" for piece in pieces), "    ),"]
    FRESH.write_text(before + "\n".join(lines) + "\n)\n" + after, encoding="utf-8")
    print(f"{FRESH}: schema at {head}, {len(statements)} statements", file=sys.stderr)


if __name__ == "__main__":
    _write_module()
