"""Random damage to a real database file, and to a backup about to be restored.

Live file: whatever bytes are flipped, a command either works or says in one line that the database
is damaged (exit 3). The damaged bytes are kept, either in place or moved aside. Restoring the
offered backup then brings back every record.
Backup file: a damaged backup is refused with one line and the current database is untouched; a
backup whose damage SQLite cannot see is restored, opens, and passes `integrity_check`.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture_agent.cli import EXIT_BUG, main
from posture_agent.clock import FixedClock

CLOCK = FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))
DAMAGE = settings(
    max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def run(home: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    out = io.StringIO()
    code = main(["--home", str(home), *args], clock=CLOCK, out=out)
    err = capsys.readouterr().err
    return code, out.getvalue(), err


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, set[str]]]:
    """A home with 40 records of several kinds and a backup of them, made once."""
    home = tmp_path_factory.mktemp("template") / "home"
    home.mkdir()
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n')
    for n in range(20):
        assert main(["--home", str(home), "checkin", ("upright", "slouched")[n % 2], "--at",
                     f"2026-11-{1 + n:02d}T10:00"], clock=CLOCK, out=io.StringIO()) == 0
        assert main(["--home", str(home), "drill", "done", "chin-tuck", "--at", f"2026-11-{1 + n:02d}T07:30"],
                    clock=CLOCK, out=io.StringIO()) == 0
    assert main(["--home", str(home), "backup"], clock=CLOCK, out=io.StringIO()) == 0
    db = home / "data" / "posture-agent.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ids = {r[0] for r in conn.execute("SELECT id FROM checkins UNION SELECT id FROM drill_completions")}
    conn.close()
    yield home, ids


def copy_home(template: Path) -> Path:
    home = Path(tempfile.mkdtemp(prefix="damage-")) / "home"
    shutil.copytree(template, home)
    for side in (home / "data").glob("*-wal"):
        side.unlink()
    for side in (home / "data").glob("*-shm"):
        side.unlink()
    return home


def flip(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for offset, value in changes:
        out[offset % len(out)] = value
    return bytes(out)


def all_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in conn.execute("SELECT id FROM checkins UNION SELECT id FROM drill_completions")}
    finally:
        conn.close()


changes = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), min_size=1, max_size=40)


@DAMAGE
@given(changes=changes, command=st.sampled_from([["checkin", "upright"], ["export"], ["drills"], ["advice"]]))
def test_damaged_live_database(
    template: tuple[Path, set[str]], capsys: pytest.CaptureFixture[str], changes: list[tuple[int, int]],
    command: list[str],
) -> None:
    home = copy_home(template[0])
    try:
        db = home / "data" / "posture-agent.db"
        damaged = flip(db.read_bytes(), changes)
        db.write_bytes(damaged)
        code, _, err = run(home, *command, capsys=capsys)
        assert "Traceback" not in err and code != EXIT_BUG, err
        if code != 0 and "newer posture-agent" in err:  # damage in the schema version itself
            assert code == 3 and err.count("\n") == 1 and db.read_bytes() == damaged, err
        elif code != 0:
            assert code == 3 and err.count("\n") == 1 and "damaged" in err, err
            kept = [db] if db.exists() else list((home / "data").glob("posture-agent-damaged-*.db"))
            assert len(kept) == 1 and kept[0].read_bytes() == damaged  # the damaged bytes are kept
            backup = next((home / "data" / "backups").glob("backup-*.db"))
            assert run(home, "restore", str(backup), capsys=capsys)[0] == 0
            assert all_ids(home / "data" / "posture-agent.db") == template[1]
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


@DAMAGE
@given(changes=changes)
def test_damaged_backup_is_refused_or_restores_soundly(
    template: tuple[Path, set[str]], capsys: pytest.CaptureFixture[str], changes: list[tuple[int, int]]
) -> None:
    home = copy_home(template[0])
    try:
        backup = next((home / "data" / "backups").glob("backup-*.db"))
        damaged = home / "damaged-backup.db"
        damaged.write_bytes(flip(backup.read_bytes(), changes))
        db = home / "data" / "posture-agent.db"
        before = db.read_bytes()
        code, _, err = run(home, "restore", str(damaged), capsys=capsys)
        assert "Traceback" not in err and code != EXIT_BUG, err
        if code != 0:
            assert err.count("\n") == 1, err
            assert db.read_bytes() == before and not list((home / "data" / "backups").glob("before-restore-*"))
        else:
            all_ids(db)  # whatever SQLite could not tell apart, the result is a sound database
            assert run(home, "checkin", "upright", capsys=capsys)[0] == 0
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
