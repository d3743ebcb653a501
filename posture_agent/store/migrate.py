"""The schema brought up to date: a new file gets the head schema in one step (store/fresh.py), an
older one the Alembic migrations after a backup copy, and a revision we do not know is refused.

Alembic is imported only to migrate an older file, so everyday commands stay fast and a new
database (the first start) does not leave Alembic loaded in the agent all day.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine

from posture_agent.errors import StoreError
from posture_agent.store.fresh import REVISION, create_head_schema
from posture_agent.store.sqlite_file import BUSY_TIMEOUT_MS, backup_file

log = logging.getLogger(__name__)

SCHEMA_HEAD = REVISION
"""The newest migration this code knows: store/fresh.py is generated from the migrations folder,
and tests/test_store.py checks that both still agree with it."""


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(db_file: Path, **connect_args: Any) -> Engine:
    """An engine on `db_file`. The URL is built from its parts: a path pasted into "sqlite:///…"
    is cut at a "?" or "#", so a home folder with one in its name wrote the database elsewhere."""
    url = URL.create("sqlite", database=str(db_file))
    engine = create_engine(url, future=True, connect_args=connect_args)
    event.listen(engine, "connect", _on_connect)
    return engine


def migrate_to_head(db_file: Path, revision: str | None, backup_dir: Path, now: datetime | None = None) -> None:
    """Bring the file to SCHEMA_HEAD: an empty file from the head schema (store/fresh.py, without
    importing Alembic), an older one through the Alembic migrations after a backup copy."""
    new = revision is None and (not db_file.exists() or db_file.stat().st_size == 0)
    if revision is not None:
        _refuse_unknown(db_file, revision)
    if not new:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        saved = backup_file(db_file, backup_dir / f"pre-migrate-{revision or 'none'}-{stamp}.db")
        log.info("backed up %s to %s before migrating from %s", db_file, saved, revision)
    db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if new:
        os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT, 0o600))  # private from its first byte
    _switch_to_wal(db_file)
    # pysqlite would commit each CREATE TABLE on its own, so a process killed mid-migration left a
    # half-made schema that no later start could migrate ("table … already exists"). Here the whole
    # upgrade is one BEGIN IMMEDIATE transaction: all or nothing, and a second process starting at
    # the same moment waits, then finds the schema current and does nothing.
    engine = make_engine(db_file, isolation_level=None)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.begin() as conn:
            if _is_empty(conn):
                create_head_schema(conn)
            else:  # an older schema, or a new one made by a process that started just before us
                _alembic_upgrade(conn)
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?), ('device_id', ?)",
                ((now or datetime.now(UTC)).astimezone(UTC).isoformat(), uuid.uuid4().hex[:12]),
            )
    finally:
        engine.dispose()
    os.chmod(db_file, 0o600)
    log.info("database %s migrated from %s to %s", db_file, revision, SCHEMA_HEAD)


WAL_RETRY_SECONDS = 0.02


def _switch_to_wal(db_file: Path) -> None:
    """`PRAGMA journal_mode=WAL`, tried again until the busy timeout: when two first starts switch
    the same new file at once, SQLite answers "database is locked" at once instead of waiting (the
    two could deadlock), so its own busy timeout does not cover this step."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        conn = sqlite3.connect(db_file, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
        finally:
            conn.close()
        time.sleep(WAL_RETRY_SECONDS)


def _is_empty(conn: Connection) -> bool:
    return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0


def alembic_config() -> Any:
    """Alembic's configuration for our migrations folder (imports Alembic: only where it is needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "posture_agent.store:migrations")
    return cfg


def _refuse_unknown(db_file: Path, revision: str) -> None:
    """A revision the migrations folder does not know was written by a newer version."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:
        raise StoreError(
            f"{db_file} was written by a newer posture-agent (schema {revision!r}; this version knows "
            f"up to {script.get_current_head()}). It was left untouched: update posture-agent."
        )


def _alembic_upgrade(conn: Connection, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def make_schema(conn: Connection, revision: str) -> None:
    """The schema at `revision` on an empty database, as an upgrade leaves it (the head without
    Alembic, like a new file; an older revision through the migrations)."""
    if revision == SCHEMA_HEAD:
        create_head_schema(conn)
    else:
        _alembic_upgrade(conn, revision)
