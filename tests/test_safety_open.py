"""Opening the database when something is wrong: damaged, newer, locked, read-only, full disk,
unusual home folders, broken config. Each case: one clear line, nothing lost, nothing overwritten."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from posture_agent.config import load_settings_or_defaults
from posture_agent.paths import Paths
from posture_agent.store.backup import latest_good_backup
from tests.conftest import Cli, as_newer_version


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def ids(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM checkins")}
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def damage_pages(db: Path, only: int | None = None) -> None:
    """Overwrite every other page (or only page number `only`) with junk, header left readable."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for n in range(1, len(data) // page):
        if (only is None and n % 2) or n + 1 == only:
            data[n * page + 10 : n * page + 400] = b"\xa5" * 390
    db.write_bytes(bytes(data))


def corrupt_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"garbage garbage!"
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [corrupt_header, damage_pages], ids=["not-a-database", "malformed-pages"])
def test_damaged_database_is_moved_aside_and_backup_offered(cli: Cli, damage: object) -> None:
    for _ in range(30):
        cli.ok("checkin", "upright")
    good = Path(cli.ok("backup").out.strip())
    kept = ids(good)
    paths = Paths.resolve(cli.home)
    conn = sqlite3.connect(paths.db_file)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    damage(paths.db_file)  # type: ignore[operator]
    damaged_bytes = paths.db_file.read_bytes()

    result = cli("checkin", "slouched")
    line = one_line(result.err)
    assert result.code == 3
    assert "damaged" in line and f"posture-agent restore {shlex.quote(str(good))}" in line
    moved = [p for p in paths.data_dir.glob("posture-agent-damaged-*.db")]
    assert len(moved) == 1 and str(moved[0]) in line
    assert moved[0].read_bytes() == damaged_bytes  # kept exactly as it was
    assert not paths.db_file.exists()  # and no empty database silently created

    again = cli("drills")  # every command refuses the same way until the user chooses
    assert again.code == 3 and "restore" in one_line(again.err)
    assert not paths.db_file.exists()

    cli.ok("restore", str(good))
    assert ids(paths.db_file) == kept
    cli.ok("checkin", "standing")
    assert moved[0].read_bytes() == damaged_bytes


def test_damaged_database_without_backup_offers_a_fresh_start(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    shutil.rmtree(paths.backup_dir, ignore_errors=True)
    corrupt_header(paths.db_file)
    result = cli("checkin", "upright")
    assert result.code == 3 and "posture-agent restore --fresh" in one_line(result.err)
    out = cli.ok("--json", "restore", "--fresh").json()
    assert isinstance(out, dict) and out["restored_from"] is None
    cli.ok("checkin", "upright")
    assert len(ids(paths.db_file)) == 1
    assert len(list(paths.data_dir.glob("posture-agent-damaged-*.db"))) == 1


def test_newer_database_is_refused_untouched(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    before = as_newer_version(paths.db_file)
    result = cli("checkin", "slouched")
    assert result.code == 3 and "newer posture-agent" in one_line(result.err)
    assert paths.db_file.read_bytes() == before
    assert not list(paths.data_dir.glob("*damaged*"))


def test_locked_database_waits_then_one_line(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    before = cli.db_dump()
    db = Paths.resolve(cli.home).db_file
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3,sys,time\n"
         f"c=sqlite3.connect({str(db)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = cli("checkin", "slouched")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 3
    assert "busy" in one_line(result.err) and "another posture-agent process" in result.err
    assert waited >= 4  # it did wait for the other process before giving up (busy_timeout 5 s)
    assert cli.db_dump() == before
    cli.ok("checkin", "slouched")  # and works once the other process is gone


def test_lock_released_while_waiting_means_success(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    db = Paths.resolve(cli.home).db_file
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(1.0, holder.rollback)
    timer.start()
    try:
        cli.ok("checkin", "slouched")
    finally:
        timer.join()
        holder.close()
    assert len(ids(db)) == 2


def test_broken_config_gives_defaults_and_line_and_keeps_the_file(home: Path) -> None:
    path = home / "config.toml"
    text = '[general]\ntimezone = "Europe/Berlin"\n\n[desk]\nstart = "9:00"\nevery_minutes = 3\n'
    path.write_bytes(text.encode())
    before = path.read_bytes()
    settings, error = load_settings_or_defaults(path)
    assert error is not None and error.line == 6 and "desk.every_minutes" in str(error)
    assert settings.desk.every_minutes == 45 and settings.timezone == ""
    assert path.read_bytes() == before
    good, none = load_settings_or_defaults(path.with_name("missing.toml"))
    assert none is None and good.desk.every_minutes == 45
    syntax = home / "syntax.toml"
    syntax.write_bytes(b'[general]\ntimezone = "Europe/Berlin\n')
    _, error = load_settings_or_defaults(syntax)
    assert error is not None and error.line == 2
    assert syntax.read_bytes() == b'[general]\ntimezone = "Europe/Berlin\n'


def test_files_are_private(tmp_path: Path, cli: Cli) -> None:
    fresh = tmp_path / "fresh home"
    cli.home = fresh
    (cli.ok("checkin", "upright"))
    cli.ok("backup")
    paths = Paths.resolve(fresh)
    for folder in (fresh, paths.data_dir, paths.log_dir, paths.backup_dir):
        assert mode(folder) == 0o700, folder
    for file in (paths.config_file, paths.db_file, paths.log_file, *paths.backup_dir.glob("*.db")):
        assert mode(file) == 0o600, file


def test_home_with_spaces_and_non_ascii_letters(tmp_path: Path, cli: Cli) -> None:
    odd = tmp_path / "Zoë Ångström's läufer home" / "日本 データ"
    cli.home = odd
    first = cli.ok("--json", "checkin", "upright").json()["id"]  # type: ignore[index]
    backup = Path(cli.ok("backup").out.strip())
    assert backup.is_relative_to(odd)
    cli.ok("checkin", "slouched")
    cli.ok("restore", str(backup))
    assert ids(Paths.resolve(odd).db_file) == {first}
    corrupt_header(Paths.resolve(odd).db_file)
    refused = cli("drills")
    latest = latest_good_backup(Paths.resolve(odd).backup_dir)
    assert latest is not None and latest.is_relative_to(odd)
    assert refused.code == 3 and shlex.quote(str(latest)) in refused.err  # a command that can be pasted
    cli.ok("restore", str(backup))
    cli.ok("drills")


@pytest.fixture
def small_mount(tmp_path: Path) -> object:
    """A real small file system (tmpfs), mounted and unmounted by this test; skips if not allowed."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("mount(8) is not available")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k,mode=0700", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def release_log_files() -> None:
    for handler in logging.getLogger().handlers:
        handler.close()
    logging.getLogger().handlers[:] = [logging.NullHandler()]


def test_full_disk_one_line_and_nothing_acknowledged_lost(cli: Cli, small_mount: Path) -> None:
    cli.home = small_mount / "home"
    acknowledged = [cli.ok("--json", "checkin", "upright").json()["id"]]  # type: ignore[index]
    free = os.statvfs(small_mount)
    (small_mount / "filler").write_bytes(b"\0" * max(0, free.f_bavail * free.f_frsize - 40_000))
    refusal = None
    for _ in range(500):
        result = cli("--json", "checkin", "upright", "--context", "desk")
        if result.code != 0:
            refusal = result
            break
        acknowledged.append(result.json()["id"])  # type: ignore[index]
    assert refusal is not None, "the disk never filled"
    line = one_line(refusal.err)
    assert "full" in line or "No space" in line, line
    (small_mount / "filler").unlink()
    db = Paths.resolve(cli.home).db_file
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert set(acknowledged) <= ids(db) and len(acknowledged) > 0
    cli.ok("checkin", "upright")  # space back: it works again


def test_read_only_data_folder_one_line_and_nothing_lost(cli: Cli, small_mount: Path) -> None:
    cli.home = small_mount / "home"
    first = cli.ok("--json", "checkin", "upright").json()["id"]  # type: ignore[index]
    db = Paths.resolve(cli.home).db_file
    release_log_files()  # the in-process CLI keeps its log file open; a real process would have exited
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    try:
        result = cli("checkin", "slouched")
        assert result.code != 0
        line = one_line(result.err)
        assert "read-only" in line.lower(), line
        backup = cli("backup")
        assert backup.code != 0 and one_line(backup.err)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_mount)], check=True)
    assert ids(db) == {first}


def test_large_database_skips_the_check_but_damage_is_still_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above QUICK_CHECK_MAX_BYTES commands skip the whole-file check; a damaged page met while
    reading still gives one line with the restore command, and the agent's check at start
    (check=True) moves the file aside as for a small one."""
    from posture_agent.store import db as store_db
    from posture_agent.store.recovery import DamagedDatabase

    for _ in range(30):
        cli.ok("checkin", "upright")
    good = Path(cli.ok("backup").out.strip())
    paths = Paths.resolve(cli.home)
    conn = sqlite3.connect(paths.db_file)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    conn = sqlite3.connect(paths.db_file)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='checkins'").fetchone()[0]
    conn.close()
    damage_pages(paths.db_file, only=root)  # the check-ins' page only: the schema still reads
    monkeypatch.setattr(store_db, "QUICK_CHECK_MAX_BYTES", 0)
    result = cli("export")
    line = one_line(result.err)
    assert result.code == 3 and "damaged" in line and shlex.quote(str(good)) in line
    assert paths.db_file.exists()  # not moved by a command that only met a bad page
    with pytest.raises(DamagedDatabase):
        store_db.open_store(paths.db_file, paths.backup_dir, check=True)
    assert not paths.db_file.exists() and len(list(paths.data_dir.glob("posture-agent-damaged-*.db"))) == 1


def test_doctor_reports_a_database_moved_aside(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    good = Path(cli.ok("backup").out.strip())
    corrupt_header(Paths.resolve(cli.home).db_file)
    assert cli("advice").code == 3
    report = cli("--json", "doctor")
    assert report.code == 1
    data = report.json()
    assert isinstance(data, dict)
    database = next(c for c in data["checks"] if c["check"] == "database")
    assert not database["ok"] and "damaged" in database["detail"] and str(good) in database["detail"]


FSIZE_WRITER = """
import io, json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
from posture_agent.cli import main
home = sys.argv[1]
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
for _ in range(5000):
    out = io.StringIO()
    code = main(["--home", home, "--json", "checkin", "upright"], out=out)
    if code != 0:
        print("REFUSED", code, flush=True)
        break
    print("ACK", json.loads(out.getvalue())["id"], flush=True)
"""


def test_file_size_limit_one_line_and_nothing_acknowledged_lost(cli: Cli) -> None:
    """The same promise as a full disk, by a per-process file size limit (no mount needed)."""
    cli.ok("checkin", "upright")
    db = Paths.resolve(cli.home).db_file
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    limit = db.stat().st_size + 48_000
    done = subprocess.run([sys.executable, "-c", FSIZE_WRITER, str(cli.home), str(limit)],
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines and lines[-1].startswith("REFUSED"), done.stdout[-500:] + done.stderr[-2000:]
    assert one_line(done.stderr)
    acknowledged = {line.split()[1] for line in lines if line.startswith("ACK")}
    assert acknowledged and acknowledged <= ids(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    cli.ok("checkin", "upright")  # without the limit it works again


HOT_JOURNAL_WRITER = (
    "import os, sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('PRAGMA cache_size=1')  # dirty pages spill into the file: the journal turns hot\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "conn.execute('CREATE TABLE scratch (x TEXT)')\n"
    "for _ in range(200):\n"
    "    conn.execute('INSERT INTO scratch VALUES (?)', ('x' * 3000,))\n"
    "print('written', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_start_killed_with_a_hot_journal_is_recovered(cli: Cli) -> None:
    """Killed while the very first start switched the new file to WAL: the file and a hot rollback
    journal are left, which a read-only open cannot roll back (SQLITE_READONLY_ROLLBACK). The next
    command rolls it back, makes the schema and saves, instead of calling the folder read-only."""
    db = cli.home / "data" / "posture-agent.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    writer = subprocess.Popen([sys.executable, "-c", HOT_JOURNAL_WRITER, str(db)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
    writer.kill()
    writer.wait()
    assert Path(f"{db}-journal").exists()
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT count(*) FROM sqlite_master").fetchone()
    assert caught.value.sqlite_errorname == "SQLITE_READONLY_ROLLBACK"

    cli.ok("checkin", "upright")
    assert len(ids(db)) == 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'scratch'").fetchone() is None
    finally:
        conn.close()
