"""Nothing lost, round two: what a careless or determined user ran (wrong paths, odd file names,
edge dates, full disks, strange config files), each run as a real command on a real home.

Each test checks what must hold: the database digest before and after where data is at stake,
the exit status, exactly one line on stderr, no traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posture_agent.agent import jobhealth
from posture_agent.agent.runtime import Agent
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.paths import Paths
from posture_agent.store.db import open_store
from posture_agent.ui.tray import tray_state_from
from tests.importers.conftest import write_gpx
from tests.processes import unfaked_env

START = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)
"""A run's start, a week before the pinned 'now' of the in-process tests."""


def digest(db: Path) -> str:
    """Every row of every table, hashed: the same digest means no record was added, changed or lost."""
    if not db.exists():
        return "absent"
    conn = sqlite3.connect(db)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def command(home: Path, *args: str | bytes, stdout: int | object = subprocess.PIPE,
            timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """`posture-agent --home HOME ARGS…` as a process of its own (bytes in, bytes out), run in the
    folder that holds HOME."""
    env = {**os.environ, "TZ": "Europe/Berlin", "PYTHONIOENCODING": "utf-8"}
    env.pop("POSTURE_AGENT_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(home), *args],
        stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=timeout, check=False,  # type: ignore[arg-type]
        cwd=home.parent,
    )


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a refused command (and that there is no traceback)."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "Logging error" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("posture-agent"), repr(err)
    return err


def quiet(result: subprocess.CompletedProcess[bytes]) -> None:
    assert result.stderr == b"", result.stderr.decode("utf-8", "replace")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with a config naming the zone and one check-in, so that there is data to lose."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    result = command(folder, "checkin", "upright", "--at", "2026-11-20T10:00")
    assert result.returncode == 0, result.stderr
    return folder


def db_of(home: Path) -> Path:
    return home / "data" / "posture-agent.db"


# --- 1: an output path that is one of the user's own files ----------------------------------------


def test_1_report_html_never_writes_over_the_users_own_files(home: Path, tmp_path: Path) -> None:
    assert command(home, "backup").returncode == 0
    backup = next((home / "data" / "backups").iterdir())
    (tmp_path / "link.db").symlink_to(db_of(home))
    os.link(db_of(home), tmp_path / "hard.db")
    spellings = [
        str(db_of(home)), str(home / "config.toml"), str(home / "logs" / "posture-agent.log"), str(backup),
        str(tmp_path / "link.db"), str(tmp_path / "hard.db"), str(home / "data" / ".." / "config.toml"),
        str(home / "data" / "backups" / "new.html"),
    ]
    before, config, saved = digest(db_of(home)), (home / "config.toml").read_bytes(), backup.read_bytes()
    for target in spellings:
        result = command(home, "report", "--html", target)
        assert result.returncode == 2, target
        assert "own files" in one_line(result) or "backups folder" in one_line(result)
    assert digest(db_of(home)) == before
    assert (home / "config.toml").read_bytes() == config and backup.read_bytes() == saved
    assert command(home, "checkin", "slouched").returncode == 0  # the home still works
    relative = command(home, "report", "--html", "home/data/posture-agent.db")  # from home's parent
    assert relative.returncode == 2


def test_1_report_html_replaces_its_own_page_whole(home: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text("old page", encoding="utf-8")
    assert command(home, "report", "--html", str(page)).returncode == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


# --- 2: the watched import folder, and a job that keeps failing --------------------------------------


def test_2_the_agent_imports_the_watched_folder_and_reports_a_failing_job(tmp_path: Path) -> None:
    home, watch = tmp_path / "home", tmp_path / "watch"
    home.mkdir()
    watch.mkdir()
    old = datetime.now(UTC) - timedelta(hours=1)
    gpx = write_gpx(watch / "morning.gpx", START, 50, 10.0)
    os.utime(gpx, (old.timestamp(), old.timestamp()))  # settled: not still being synced
    config = home / "config.toml"
    config.write_text(f'[general]\ntimezone = "UTC"\n[import]\nfolder = "{watch}"\n', encoding="utf-8")
    paths = Paths.resolve(home)
    paths.make_dirs()
    store = open_store(paths.db_file, paths.backup_dir)
    try:
        agent = Agent(paths, load_settings(config), store, FixedClock(START + timedelta(days=7)))
        job = agent._guard(agent.import_folder)
        job()
        assert [r.distance_km for r in agent.journal.runs()] == [pytest.approx(10.0, abs=0.05)]
        assert jobhealth.failing(paths.runtime_dir) == []
        config.write_text(f'[import]\nfolder = "{tmp_path / "unplugged"}"\n', encoding="utf-8")
        agent.reload_config()
        job()
        job()
        assert agent.status().failing_jobs == ("import folder",)
        note = tray_state_from(agent.status(), UTC).note
        assert note == "The import folder job keeps failing (see posture-agent doctor)"
    finally:
        store.close()
    result = command(home, "--json", "doctor")
    assert result.returncode == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["agent jobs"]["ok"] is False
    assert "import folder job fails since" in checks["agent jobs"]["detail"]
    assert "does not exist" in checks["agent jobs"]["detail"]


# --- 3 and 12: file names whatever their bytes; a FIFO ------------------------------------------------


def test_3_a_file_name_that_is_not_utf8_imports_and_the_next_file_too(home: Path, tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    bad = folder + b"/bad\xffname.gpx"
    write_gpx(Path(os.fsdecode(bad)), START, 50, 10.0)
    good = write_gpx(tmp_path / "after.gpx", START + timedelta(days=1), 40, 8.0)
    result = command(home, "--json", "run", "import", bad, str(good))
    quiet(result)
    assert result.returncode == 0
    files = json.loads(result.stdout)["files"]
    assert [os.fsencode(f["file"]) for f in files] == [bad, os.fsencode(good)]  # exact in JSON
    assert [f["status"] for f in files] == ["imported", "imported"]
    shown = command(home, "run", "import", bad)
    assert shown.returncode == 0 and b"bad\\xffname.gpx: already imported" in shown.stdout


def test_3_the_folder_scan_imports_past_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    from posture_agent.config import Settings
    from posture_agent.importers.folder import scan_folder
    from posture_agent.journal import Journal

    watch = os.fsencode(tmp_path / "watch")
    os.mkdir(watch)
    write_gpx(Path(os.fsdecode(watch + b"/a\xffb.gpx")), START, 50, 10.0)
    write_gpx(Path(os.fsdecode(watch + b"/z.gpx")), START + timedelta(days=1), 40, 8.0)
    store = open_store(tmp_path / "data" / "posture-agent.db")
    try:
        journal = Journal(store, Settings(timezone="UTC"), FixedClock(START + timedelta(days=7)))
        first = scan_folder(journal, os.fsdecode(watch), settle_seconds=0)
        assert [o.status for o in first] == ["imported", "imported"]
        assert scan_folder(journal, os.fsdecode(watch), settle_seconds=0) == []  # remembered, not retried
    finally:
        store.close()


def test_12_odd_names_are_shown_escaped_and_a_fifo_does_not_hang(home: Path, tmp_path: Path) -> None:
    newline = write_gpx(tmp_path / "new\nline.gpx", START, 50, 10.0)
    escape = write_gpx(tmp_path / "esc\x1b[31mred.gpx", START + timedelta(days=1), 40, 8.0)
    fifo = tmp_path / "pipe.gpx"
    os.mkfifo(fifo)
    before = digest(db_of(home))
    result = command(home, "run", "import", str(fifo), str(newline), str(escape), timeout=30)
    assert result.returncode == 1  # the FIFO failed (its line on stderr), the others imported
    assert result.stderr.decode() == f"{fifo}: failed: is a pipe (FIFO), not a regular file\n"
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 3 and b"\x1b" not in result.stdout
    assert lines[0].startswith(f"{tmp_path}/new\\nline.gpx: imported")
    assert lines[1].startswith(f"{tmp_path}/esc\\x1b[31mred.gpx: imported")
    assert digest(db_of(home)) != before
    raw = json.loads(command(home, "--json", "run", "import", str(newline)).stdout)
    assert raw["files"][0]["file"] == str(newline)


# --- 4: two first starts at the same moment ------------------------------------------------------------


def test_4_a_first_start_waits_for_another_one_switching_the_new_file(tmp_path: Path) -> None:
    """What the second of two first starts meets: the new file locked by the first. SQLite refuses
    the switch to WAL at once there (waiting could deadlock), which failed the check-in after 0.4 s
    with "locked for more than 5 s"; now it waits for the lock, as any write does."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    db = db_of(home)
    os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))  # the first start has just created it
    first = sqlite3.connect(db, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")
    env = {**os.environ, "TZ": "Europe/Berlin"}
    second = subprocess.Popen(
        [sys.executable, "-m", "posture_agent", "--home", str(home), "checkin", "upright"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )
    with contextlib.suppress(subprocess.TimeoutExpired):
        second.wait(timeout=1.0)  # the lock is held a second; giving up before that fails below
    first.execute("COMMIT")
    first.close()
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()
    assert err == b"" and out.startswith(b"Check-in saved")


def test_4_the_busy_message_says_how_long_it_waited(tmp_path: Path) -> None:
    from posture_agent.store.sqlite_file import store_error

    error = store_error(sqlite3.OperationalError("database is locked"), tmp_path / "x.db", waited=0.43)
    assert error is not None and "kept it locked for 0.4 s;" in str(error)


# --- 5: dates at the edges of what the command line accepts ------------------------------------------


BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
"""East of UTC the first local midnight of year 1 is before the first UTC instant; west of it the
last local hour of 9999 is after the last one."""


@pytest.mark.parametrize(("zone", "args"), [
    (BERLIN, ["checkin", "upright", "--at", "0001-01-01T00:00"]),
    (BERLIN, ["run", "add", "--distance-km", "5", "--duration", "30:00", "--at", "0001-01-01T00:00"]),
    (BERLIN, ["soreness", "--upper-back", "2", "--at", "0001-01-01T00:00"]),
    (BERLIN, ["drill", "done", "chin-tuck", "--at", "0001-01-01T00:00"]),
    (BERLIN, ["circuit", "done", "--at", "0001-01-01T00:00"]),
    (NEW_YORK, ["checkin", "upright", "--at", "9999-12-31T23:00"]),
    (NEW_YORK, ["checkin", "upright", "--at", "9999-12-31T23:00-05:00"]),  # the same instant, refused before too
    (BERLIN, ["schedule", "--from", "0001-01-01T00:00"]),
    (BERLIN, ["report", "--week", "0001-W01"]),
    (BERLIN, ["report", "--week", "9999-W52"]),
])
def test_5_dates_out_of_range_are_refused_with_one_line(home: Path, zone: str, args: list[str]) -> None:
    (home / "config.toml").write_text(f'[general]\ntimezone = "{zone}"\n', encoding="utf-8")
    before = digest(db_of(home))
    result = command(home, *args)
    assert result.returncode == 2
    assert "is out of range (years 1970 to 2200)" in one_line(result)
    assert digest(db_of(home)) == before


# --- 6 and 10: a log that cannot be written, things in the wrong place ---------------------------------


def test_6_a_full_log_disk_never_shows_a_traceback(home: Path) -> None:
    log = home / "logs" / "posture-agent.log"
    log.unlink()
    log.symlink_to("/dev/full")  # every write to the log fails with "No space left on device"
    saved = command(home, "checkin", "standing")
    assert saved.returncode == 0
    quiet(saved)
    refused = command(home, "checkin", "sideways")
    assert refused.returncode == 2 and "sideways" in one_line(refused)
    doctor = json.loads(command(home, "--json", "doctor").stdout)
    logs = next(c for c in doctor["checks"] if c["check"] == "logs")
    assert logs["ok"] is False and "No space left on device" in logs["detail"]


def test_10_a_folder_where_a_file_belongs_and_the_other_way_round(tmp_path: Path) -> None:
    folder_db = tmp_path / "a"
    (folder_db / "data" / "posture-agent.db").mkdir(parents=True)
    result = command(folder_db, "checkin", "upright")
    assert result.returncode == 2 and "is a folder, not a file" in one_line(result)

    file_data = tmp_path / "b"
    file_data.mkdir()
    (file_data / "data").write_text("mine", encoding="utf-8")
    result = command(file_data, "checkin", "upright")
    assert result.returncode == 2 and "is a file where posture-agent keeps a folder" in one_line(result)
    assert (file_data / "data").read_text(encoding="utf-8") == "mine"

    folder_log = tmp_path / "c"
    (folder_log / "logs" / "posture-agent.log").mkdir(parents=True)
    assert command(folder_log, "checkin", "upright").returncode == 0
    doctor = json.loads(command(folder_log, "--json", "doctor").stdout)
    logs = next(c for c in doctor["checks"] if c["check"] == "logs")
    assert logs["ok"] is False and "Is a directory" in logs["detail"]


# --- 7: backups at the same moment ---------------------------------------------------------------


def test_7_six_backups_at_once_are_six_files(home: Path) -> None:
    env = {**os.environ, "TZ": "Europe/Berlin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "posture_agent", "--home", str(home), "--json", "backup"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=home.parent,
        )
        for _ in range(6)
    ]
    made = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and err == b"", err.decode()
        made.append(json.loads(out)["path"])
    assert len(set(made)) == 6, made
    on_disk = sorted(p.name for p in (home / "data" / "backups").iterdir())
    assert on_disk == sorted(Path(p).name for p in made)
    for path in made:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert conn.execute("SELECT count(*) FROM checkins").fetchone() == (1,)
        finally:
            conn.close()


# --- 8 and 9: config files -------------------------------------------------------------------------


def test_8_a_prompt_timeout_that_reaches_the_next_prompt_is_refused(home: Path) -> None:
    (home / "config.toml").write_text(
        "[general]\nprompt_timeout_minutes = 60\n[desk]\nevery_minutes = 5\n", encoding="utf-8"
    )
    before = digest(db_of(home))
    result = command(home, "config", "check")
    assert result.returncode == 2
    assert "line 2: general.prompt_timeout_minutes: must be shorter than the 5 minutes" in one_line(result)
    kept = command(home, "checkin", "upright")  # a typo never stops a record: the last valid settings
    assert kept.returncode == 0 and "using the last valid settings" in one_line(kept)
    assert digest(db_of(home)) != before


def test_9_a_bom_is_accepted_and_utf16_named(home: Path) -> None:
    config = home / "config.toml"
    config.write_bytes(b'\xef\xbb\xbf[general]\ntimezone = "Asia/Tokyo"\n')
    shown = command(home, "--json", "config", "show")
    assert shown.returncode == 0 and json.loads(shown.stdout)["timezone"] == "Asia/Tokyo"
    config.write_bytes('[general]\ntimezone = "Asia/Tokyo"\n'.encode("utf-16"))
    result = command(home, "config", "check")
    assert result.returncode == 2 and "is saved as UTF-16 text; save it as UTF-8" in one_line(result)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_9_a_config_that_is_not_a_regular_file_or_is_huge_is_refused_at_once(home: Path, kind: str) -> None:
    config = home / "config.toml"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "dev-zero":
        config.symlink_to("/dev/zero")
    else:
        with config.open("wb") as f:
            f.write(b"# " + b"x" * (47 * 2**20) + b"\n")
    before = digest(db_of(home))
    result = command(home, "checkin", "upright", timeout=30)  # hung before: the timeout would fail it
    expected = {"fifo": "is a pipe (FIFO)", "dev-zero": "is a device", "huge": "is larger than 1024 KB"}[kind]
    assert result.returncode == 0 and expected in one_line(result), "named, and the record kept all the same"
    assert digest(db_of(home)) != before
    check = command(home, "config", "check", timeout=30)
    assert check.returncode == 2 and expected in one_line(check)


# --- 11: the output cannot be printed -------------------------------------------------------------


def test_11_a_saved_checkin_is_reported_saved_when_printing_fails(home: Path) -> None:
    before = digest(db_of(home))
    with open("/dev/full", "wb") as full:
        result = command(home, "checkin", "upright", stdout=full)
    assert result.returncode == 0  # saved: a script must not retry and make a duplicate
    assert "saved; only printing the confirmation failed (No space left on device)" in one_line(result)
    assert digest(db_of(home)) != before
    listing = json.loads(command(home, "--json", "export").stdout)["records"]
    assert len([r for r in listing if r["type"] == "checkin"]) == 2
    with open("/dev/full", "wb") as full:
        refused = command(home, "run", "list", stdout=full)
    assert refused.returncode == 1 and "could not be written" in one_line(refused)


@pytest.mark.parametrize("args", [["--json", "export"], ["export", "--format", "csv"], ["checkin", "upright"]])
def test_11_a_closed_pipe_ends_quietly(home: Path, args: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -5` that has already exited
    try:
        result = command(home, *args, stdout=write_end)
    finally:
        os.close(write_end)
    assert result.returncode == 0
    quiet(result)


# --- found while trying the rows again ----------------------------------------------------------------


def test_found_report_html_at_a_fifo_leaves_it_a_fifo(home: Path, tmp_path: Path) -> None:
    """A rename over a device or a FIFO replaces the node itself (as root, `--html /dev/full`
    replaced the device with a page)."""
    fifo = tmp_path / "out.html"
    os.mkfifo(fifo)
    result = command(home, "report", "--html", str(fifo), timeout=30)
    assert result.returncode == 2 and "is a pipe (FIFO), not a regular file" in one_line(result)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_found_restore_of_a_fifo_does_not_hang(home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "backup.db"
    os.mkfifo(fifo)
    before = digest(db_of(home))
    result = command(home, "restore", str(fifo), timeout=30)
    assert result.returncode == 2 and "is a pipe (FIFO)" in one_line(result)
    assert digest(db_of(home)) == before


def test_found_a_home_that_is_a_file_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("mine", encoding="utf-8")
    result = command(home, "checkin", "upright")
    assert result.returncode == 2 and "is a file where posture-agent keeps a folder" in one_line(result)
    assert home.read_text(encoding="utf-8") == "mine"


def test_found_a_checkin_with_stdout_closed_is_saved_and_says_so(home: Path) -> None:
    """`checkin upright >&-`: saved, then exit 70 on printing to a missing stdout."""
    env = unfaked_env(TZ="Europe/Berlin")  # libfaketime would take descriptor 1
    before = digest(db_of(home))
    result = subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(home), "checkin", "upright"],
        stderr=subprocess.PIPE, env=env, cwd=home.parent, timeout=60, check=False,
        preexec_fn=lambda: os.close(1),  # the child starts with no stdout at all
    )
    assert result.returncode == 0
    assert "saved; only printing the confirmation failed (standard output is closed)" in one_line(result)
    assert digest(db_of(home)) != before
