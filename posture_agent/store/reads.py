"""Read-only reads for the trends figures, through the standard library's sqlite3 alone.

`trends` is a whole process whose answer needs a few small reads, where importing SQLAlchemy and
opening the store (its checks and migrations, store/db.py) cost more than the reads themselves. Here
the file is opened read-only (`mode=ro`, no wait for a lock), and answers only when it is a sound
file of the schema this code knows. Anything else (no file yet, an older schema the store would
migrate, a newer one, a marker of a damaged file, a busy or unreadable file) raises `NotReadable`,
and the caller goes through the store as every other command does, which creates, migrates, waits,
recovers or refuses in its own words.

The SQL says what store/queries.py says through SQLAlchemy (records taken back and the losing
versions of records edited on two computers are left out; the same check-ins count for a source),
and both turn rows into records with store/rows.py; tests/test_trends_reads.py compares the two on
the same files.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from posture_agent.domain import records as r
from posture_agent.domain.exposure import RunFacts
from posture_agent.domain.sources import PAIR_WINDOW, SOURCES, near_camera
from posture_agent.store import sqlite_file
from posture_agent.store.fresh import REVISION
from posture_agent.store.rows import checkin_of, newest_versions, run_of, soreness_of, stored, utc
from posture_agent.store.sqlite_file import QUICK_CHECK_MAX_BYTES, marker_file


class NotReadable(Exception):
    """The read-only path cannot answer for this file; the message says why (for the log)."""


@contextmanager
def read_only(db_file: Path) -> Iterator[sqlite3.Connection]:
    """The database opened read-only, in one read transaction (every read sees the same moment),
    or NotReadable. It never waits: a file locked by a writer is the store's to wait for."""
    try:
        info = db_file.lstat()
    except OSError as exc:
        raise NotReadable(f"{db_file}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        raise NotReadable(f"{db_file} is empty or not a regular file")
    if marker_file(db_file).exists():
        raise NotReadable(f"{db_file} was moved aside as damaged")
    try:
        conn = sqlite_file.connect(db_file, timeout=0, isolation_level=None)
    except sqlite3.Error as exc:
        raise NotReadable(f"{db_file}: {exc}") from None
    try:
        conn.execute("BEGIN")
        _check(conn, info.st_size)
        yield conn
    except sqlite3.Error as exc:
        raise NotReadable(f"{db_file}: {exc}") from None
    finally:
        conn.close()


def _check(conn: sqlite3.Connection, size: int) -> None:
    """The file is of this code's schema, and sound where the store would check it at open."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone():
        raise NotReadable("no schema version")
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    if revision is None or revision[0] != REVISION:
        raise NotReadable(f"schema {revision[0] if revision else None}, not {REVISION}")
    if size <= QUICK_CHECK_MAX_BYTES:
        result = conn.execute("PRAGMA quick_check").fetchall()
        if [row[0] for row in result] != ["ok"]:
            raise NotReadable(f"quick_check: {result[0][0]}")


SUPERSEDED = """SELECT mine.replaced_by FROM tombstones AS mine
    WHERE mine.replaced_by IS NOT NULL AND EXISTS (
        SELECT 1 FROM tombstones AS other
        WHERE other.record_id = mine.record_id AND other.replaced_by IS NOT NULL
          AND (other.created_at > mine.created_at
               OR (other.created_at = mine.created_at AND other.device > mine.device)))"""
"""New versions that lost to a later edit of the same record (queries.superseded_versions)."""


def live(alias: str) -> str:
    """The condition "not taken back" on `alias` (queries.live): no tombstone names it, and it is
    not the losing version of a record edited on two computers."""
    return f"{alias}.id NOT IN (SELECT record_id FROM tombstones) AND {alias}.id NOT IN ({SUPERSEDED})"


ANSWERED = "({})".format(", ".join(f"'{p}'" for p in r.POSTURES))


def counted(alias: str, source: str) -> str:
    """The condition on check-in `alias` of counting for `source` (queries.counted_source): "user"
    or "camera" alone; "all" leaves out a camera check-in that a user's answer in its context within
    PAIR_WINDOW overrules. `answered_by || ''` keeps SQLite from indexing `answered_by` on the fly:
    that index would make it scan every check-in for each run instead of the 48 h before it."""
    if source in ("user", "camera"):
        return f"{alias}.answered_by || '' = '{source}'"
    if source != "all":
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    window = PAIR_WINDOW.total_seconds() / 86400
    return f"""({alias}.answered_by = 'user' OR NOT EXISTS (
        SELECT 1 FROM checkins AS users
        WHERE users.answered_by = 'user' AND users.context = {alias}.context AND users.posture IN {ANSWERED}
          AND abs(julianday(users.at) - julianday({alias}.at)) <= {window!r}
          AND users.id NOT IN (SELECT record_id FROM tombstones)))"""


def run_facts(conn: sqlite3.Connection, end: datetime, source: str = "all") -> RunFacts:
    """What the trends are computed from, over all history before `end` (queries.run_facts)."""
    return RunFacts(runs(conn, end), exposures(conn, end, source), soreness(conn, end))


def runs(conn: sqlite3.Connection, end: datetime) -> list[r.Run]:
    rows = conn.execute(f"""SELECT id, start, duration_s, distance_km, sport, source, moving_s FROM runs
        WHERE {live("runs")} AND start < ? ORDER BY start""", (stored(end),))
    return [run_of(row) for row in rows]


def exposures(conn: sqlite3.Connection, end: datetime, source: str = "all") -> dict[str, tuple[int, int]]:
    """{run id: (answered, slouched)} over the check-ins counted for `source` in the 48 h before
    each run starting before `end`: counted by SQLite through the `at` index, one row per run."""
    rows = conn.execute(f"""SELECT runs.id, count(c.id), sum(c.posture = 'slouched')
        FROM runs JOIN checkins AS c
          ON c.at >= strftime('%Y-%m-%d %H:%M:%f', runs.start, '-48 hours') AND c.at < runs.start
         AND c.posture IN {ANSWERED} AND {live("c")} AND {counted("c", source)}
        WHERE {live("runs")} AND runs.start < ? GROUP BY runs.id""", (stored(end),))
    return {str(i): (int(n), int(k or 0)) for i, n, k in rows}


def soreness(conn: sqlite3.Connection, end: datetime) -> list[r.Soreness]:
    """Soreness reports before `end`; one linked to a run since edited is linked to its newest version."""
    edits = conn.execute("""SELECT record_id, replaced_by FROM tombstones
        WHERE record_table = 'runs' AND replaced_by IS NOT NULL ORDER BY created_at, id""")
    moved = newest_versions(edits)
    rows = conn.execute(f"""SELECT id, at, upper_back, mid_back, lower_back, si_joint, run_id, form, si_pain_reported
        FROM soreness_reports WHERE {live("soreness_reports")} AND at < ? ORDER BY at""", (stored(end),))
    return [soreness_of(row, moved) for row in rows]


def camera_checkins(conn: sqlite3.Connection, end: datetime) -> list[r.CheckIn]:
    """The check-ins before `end` that the camera's agreement needs: those near a camera check-in
    (report/camera.py reads the same through the store)."""
    first, last = conn.execute(f"""SELECT min(at), max(at) FROM checkins
        WHERE {live("checkins")} AND answered_by = 'camera' AND at < ?""", (stored(end),)).fetchone()
    near = near_camera(None if first is None else (utc(first), utc(last)), None, end)
    if near is None:
        return []
    rows = conn.execute(f"""SELECT id, at, context, posture, prompted, answered_by FROM checkins
        WHERE {live("checkins")} AND at >= ? AND at < ? ORDER BY at""", (stored(near[0]), stored(near[1])))
    return [checkin_of(row) for row in rows]
