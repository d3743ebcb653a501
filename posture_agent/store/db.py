"""Opening the database: WAL, foreign keys, a schema brought up to date by Alembic after a backup,
and a refusal to touch a database written by a newer version.

Alembic is imported only when the schema is not already current, so everyday commands stay fast.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from posture_agent.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

SCHEMA_HEAD = "0002"
"""The newest migration this code knows; a test checks it matches the migrations folder."""

BUSY_TIMEOUT_MS = 5000


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(db_file: Path) -> Engine:
    engine = create_engine(f"sqlite:///{db_file}", future=True)
    event.listen(engine, "connect", _on_connect)
    return engine


def read_revision(db_file: Path) -> str | None:
    """The schema revision stored in the file, None for a new or empty database."""
    if not db_file.exists() or db_file.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            row = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
            ).fetchone()
            if row is None:
                return None
            version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return version[0] if version else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{db_file} is not a readable posture-agent database ({exc})") from None


def backup_file(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (safe while another process writes)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.chmod(target, 0o600)
    return target


class Store:
    """The open database: an engine and a way to run one unit of work in one transaction."""

    def __init__(self, db_file: Path, engine: Engine) -> None:
        self.db_file = db_file
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The same, as an ORM session (imports `sqlalchemy.orm`; not for the everyday commands)."""
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_store(db_file: Path, backup_dir: Path | None = None) -> Store:
    """Open (creating or migrating if needed) the database at `db_file`."""
    revision = read_revision(db_file)
    if revision != SCHEMA_HEAD:
        _migrate(db_file, revision, backup_dir or db_file.parent / "backups")
    engine = make_engine(db_file)
    return Store(db_file, engine)


def _migrate(db_file: Path, revision: str | None, backup_dir: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "posture_agent.store:migrations")
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    if revision is not None and revision not in known:
        raise StoreError(
            f"{db_file} was written by a newer posture-agent (schema {revision}; this version knows "
            f"up to {script.get_current_head()}). It was left untouched: update posture-agent."
        )
    new = not db_file.exists() or db_file.stat().st_size == 0
    if not new:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        saved = backup_file(db_file, backup_dir / f"pre-migrate-{revision or 'none'}-{stamp}.db")
        log.info("backed up %s to %s before migrating from %s", db_file, saved, revision)
    db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(db_file)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if new:
                created = datetime.now(UTC).isoformat()
                conn.exec_driver_sql(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?), ('device_id', ?)",
                    (created, uuid.uuid4().hex[:12]),
                )
    finally:
        engine.dispose()
    os.chmod(db_file, 0o600)
    log.info("database %s migrated from %s to %s", db_file, revision, SCHEMA_HEAD)
