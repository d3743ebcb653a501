"""The database file itself, through the sqlite3 module alone: what its errors mean, its stored
schema revision, its consistency check, a consistent copy, and moving it with its sidecar files.

The bottom of the store: every other module of it may use these, and these use none of them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Literal

from posture_agent.errors import StoreError

log = logging.getLogger(__name__)

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


def store_error(exc: BaseException, db_file: Path, waited: float | None = None) -> StoreError | None:
    """One clear line for the database failures a user can meet; None for anything else (a bug).
    `waited`: how long the failed step took, so a busy message says how long it really waited."""
    text = str(getattr(exc, "orig", exc)).lower()
    folder = db_file.parent
    if "locked" in text or "busy" in text:
        how_long = f"more than {BUSY_TIMEOUT_MS // 1000} s" if waited is None else f"{waited:.1f} s"
        return StoreError(
            f"the database {db_file} is busy: another posture-agent process kept it locked for "
            f"{how_long}; nothing was saved, try again in a moment"
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


def connect(
    db_file: Path, mode: str = "ro", timeout: float = BUSY_TIMEOUT_MS / 1000,
    isolation_level: Literal["DEFERRED"] | None = "DEFERRED",
) -> sqlite3.Connection:
    """`db_file` opened in `mode` ("ro", "rw") through a file: URI made by pathlib, which escapes
    "?", "#" and "%" in the path: pasted as they are, they end the path and open another file."""
    return sqlite3.connect(f"{db_file.absolute().as_uri()}?mode={mode}", uri=True, timeout=timeout,
                           isolation_level=isolation_level)


def _stored_revision(db_file: Path, mode: str) -> str | None:
    conn = connect(db_file, mode)
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
    conn = connect(db_file)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%' "
            "AND name != 'alembic_version'"
        ).fetchall()
        return [str(r[0]) for r in rows]
    finally:
        conn.close()


QUICK_CHECK_MAX_BYTES = 8_000_000
"""`PRAGMA quick_check` reads the whole file: 10-30 ms at about this size (five years of heavy use),
50-100 ms at 25 MB (benchmarks/safety_open.py), against about 1.5 ms for the rest of the open.
Commands check files up to this size at every open (store/db.py, store/reads.py); the agent checks
at start whatever the size (`check=True`)."""


def quick_check(db_file: Path) -> str:
    """SQLite's fast consistency check ("ok" when sound); reads every page, so O(file size)."""
    conn = connect(db_file)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return " ".join("; ".join(str(r[0]) for r in rows[:3]).split())  # one line, for messages
    finally:
        conn.close()


def backup_file(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (safe while another process writes), as one
    self-contained file (rollback journal, no -wal sidecar), readable by the user alone."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    src = connect(source)
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


def marker_file(db_file: Path) -> Path:
    """The marker left beside a damaged database moved aside (store/recovery.py): while it is
    there, every command refuses until the user restores or starts fresh."""
    return db_file.with_name(db_file.name + ".damaged")


SIDECARS = ("-wal", "-shm", "-journal")
"""SQLite's companion files; they travel with the main file or the main file is not what it was."""


def unique_path(folder: Path, stem: str, suffix: str = ".db") -> Path:
    """A name in `folder` that no file has yet, so nothing is ever overwritten."""
    candidate = folder / f"{stem}{suffix}"
    number = 2
    while candidate.exists() or any(candidate.with_name(candidate.name + s).exists() for s in SIDECARS):
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


def move_with_sidecars(source: Path, target: Path) -> None:
    """Rename the database and its -wal/-shm/-journal files together (same folder: atomic each)."""
    for suffix in SIDECARS:
        side = source.with_name(source.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    os.replace(source, target)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
