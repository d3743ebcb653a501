"""Opening the database: WAL, foreign keys, a schema brought up to date by Alembic after a backup,
and a refusal to touch a database written by a newer version.

Alembic is imported only to migrate an older file, so everyday commands stay fast and a new
database (the first start) does not leave Alembic loaded in the agent all day.
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
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from posture_agent.errors import StoreError

log = logging.getLogger(__name__)

SCHEMA_HEAD = "0003"
"""The newest migration this code knows; a test checks it matches the migrations folder."""

BUSY_TIMEOUT_MS = 5000

SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
"""Error codes that mean the file itself is damaged (not busy, not unreadable by permissions)."""


def is_corruption(exc: BaseException) -> bool:
    """True when SQLite says the file is not a database or its pages are malformed."""
    inner = getattr(exc, "orig", exc)
    code = getattr(inner, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    text = str(inner).lower()
    return "malformed" in text or "not a database" in text


def store_error(exc: BaseException, db_file: Path) -> StoreError | None:
    """One clear line for the database failures a user can meet; None for anything else (a bug)."""
    text = str(getattr(exc, "orig", exc)).lower()
    folder = db_file.parent
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the database {db_file} is busy: another posture-agent process kept it locked for more "
            f"than {BUSY_TIMEOUT_MS // 1000} s; nothing was saved, try again in a moment"
        )
    if "disk is full" in text or "disk full" in text:
        return StoreError(f"the disk holding {folder} is full: nothing was saved; free some space and try again")
    if "readonly" in text or "read-only" in text or (
        "unable to open" in text and folder.is_dir() and not os.access(folder, os.W_OK)
    ):
        return StoreError(f"{folder} is read-only: nothing was saved; make it writable and try again")
    if "unable to open" in text:
        return StoreError(f"the database {db_file} cannot be opened: check that {folder} exists and is writable")
    if is_corruption(exc):
        return StoreError(
            f"the database {db_file} is damaged ({text}): run `posture-agent doctor`, then "
            "`posture-agent restore FILE` with a backup"
        )
    if "i/o error" in text:
        return StoreError(f"disk I/O error on {db_file}: nothing was saved; check the disk and try again")
    return None


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


NEEDS_A_WRITER = frozenset({"SQLITE_READONLY_ROLLBACK", "SQLITE_READONLY_RECOVERY", "SQLITE_READONLY_CANTINIT"})
"""What a read-only connection answers when a killed writer left a hot journal or WAL to replay."""


def read_revision(db_file: Path) -> str | None:
    """The schema revision stored in the file, None for a new or empty database."""
    if not db_file.exists() or db_file.stat().st_size == 0:
        return None
    try:
        try:
            return _stored_revision(db_file, "ro")
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in NEEDS_A_WRITER or not os.access(db_file.parent, os.W_OK):
                raise
            # e.g. killed while the first start switched the file to WAL: an ordinary open rolls
            # the journal back, as SQLite does on any open, and then the file can be read
            log.info("%s: %s; opening it read-write to recover", db_file, exc)
            return _stored_revision(db_file, "rw")
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise
        raise store_error(exc, db_file) or StoreError(f"the database {db_file} cannot be read ({exc})") from None


def _stored_revision(db_file: Path, mode: str) -> str | None:
    conn = sqlite3.connect(f"file:{db_file}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        if row is None:
            return None
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return version[0] if version else None
    finally:
        conn.close()


def user_tables(db_file: Path) -> list[str]:
    """Tables in the file other than Alembic's (a file with some but no schema version is not one
    we can migrate: something damaged it, or another program wrote it)."""
    if not db_file.exists() or db_file.stat().st_size == 0:
        return []
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%' "
            "AND name != 'alembic_version'"
        ).fetchall()
        return [str(r[0]) for r in rows]
    finally:
        conn.close()


def quick_check(db_file: Path) -> str:
    """SQLite's fast consistency check ("ok" when sound); reads every page, so O(file size)."""
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return " ".join("; ".join(str(r[0]) for r in rows[:3]).split())  # one line, for messages
    finally:
        conn.close()


def backup_file(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (safe while another process writes), as one
    self-contained file (rollback journal, no -wal sidecar), readable by the user alone."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
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
        with self.mapped_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """A locked, full, read-only or damaged database becomes a StoreError with one clear line."""
        try:
            yield
        except (DBAPIError, sqlite3.DatabaseError) as exc:
            mapped = store_error(exc, self.db_file)
            if mapped is None:
                raise
            if is_corruption(exc):
                from posture_agent.store.recovery import restore_hint

                mapped = StoreError(
                    f"the database {self.db_file} is damaged ({getattr(exc, 'orig', exc)}); "
                    f"{restore_hint(self.db_file.parent / 'backups')}"
                )
            log.warning("database error on %s", self.db_file, exc_info=True)
            raise mapped from exc

    def close(self) -> None:
        self.engine.dispose()


QUICK_CHECK_MAX_BYTES = 8_000_000
"""`PRAGMA quick_check` reads the whole file: 10-30 ms at about this size (five years of heavy use),
50-100 ms at 25 MB (benchmarks/safety_open.py), against about 1.5 ms for the rest of the open.
Commands check files up to this size at every open; the agent checks at start whatever the size
(`check=True`)."""


def open_store(db_file: Path, backup_dir: Path | None = None, *, check: bool | None = None) -> Store:
    """Open (creating or migrating if needed) the database at `db_file`.

    A damaged file (not a database, or failing `PRAGMA quick_check`: always when `check` is True,
    never when False, when the file is at most QUICK_CHECK_MAX_BYTES when None) is moved aside,
    never overwritten, and a StoreError says where it went and which backup to restore; until the
    user restores or starts fresh, no empty database is silently created in its place.
    """
    from posture_agent.store import recovery

    backup_dir = backup_dir or db_file.parent / "backups"
    recovery.refuse_if_quarantined(db_file, backup_dir)
    try:
        revision = read_revision(db_file)
        if check is None:
            check = revision is not None and db_file.stat().st_size <= QUICK_CHECK_MAX_BYTES
        if check and revision is not None:
            result = quick_check(db_file)
            if result != "ok":
                recovery.quarantine(db_file, backup_dir, f"quick_check: {result}")
        if revision is None and user_tables(db_file):
            recovery.quarantine(db_file, backup_dir, "it has tables but no schema version")
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        recovery.quarantine(db_file, backup_dir, str(exc))
    try:
        if revision != SCHEMA_HEAD:
            _migrate(db_file, revision, backup_dir)
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        mapped = store_error(exc, db_file)
        if mapped is None:
            raise
        log.warning("could not prepare %s", db_file, exc_info=True)
        raise mapped from exc
    engine = make_engine(db_file)
    return Store(db_file, engine)


def _migrate(db_file: Path, revision: str | None, backup_dir: Path) -> None:
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
    first = sqlite3.connect(db_file, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        first.execute("PRAGMA journal_mode=WAL")
    finally:
        first.close()
    # pysqlite would commit each CREATE TABLE on its own, so a process killed mid-migration left a
    # half-made schema that no later start could migrate ("table … already exists"). Here the whole
    # upgrade is one BEGIN IMMEDIATE transaction: all or nothing, and a second process starting at
    # the same moment waits, then finds the schema current and does nothing.
    engine = create_engine(f"sqlite:///{db_file}", future=True, connect_args={"isolation_level": None})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.begin() as conn:
            if _is_empty(conn):
                from posture_agent.store.fresh import create_head_schema

                create_head_schema(conn)
            else:  # an older schema, or a new one made by a process that started just before us
                _alembic_upgrade(conn)
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?), ('device_id', ?)",
                (datetime.now(UTC).isoformat(), uuid.uuid4().hex[:12]),
            )
    finally:
        engine.dispose()
    os.chmod(db_file, 0o600)
    log.info("database %s migrated from %s to %s", db_file, revision, SCHEMA_HEAD)


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


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
