"""The running agent and the user's data: what `start` does with a damaged or newer database and a
broken config file, the daily backup across days (and a DST day), `restore` while an agent runs,
no network port, and what `doctor` says about backups and the agent's lock.

Agents run as real processes (`python -m posture_agent start --no-tray`) on real SQLite files;
notifications go to a real daemon (dunst on a private session bus under Xvfb, tests/desktop.py).
"""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.agent.control import send
from posture_agent.agent.runtime import Agent
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings_or_defaults
from posture_agent.paths import Paths
from posture_agent.store.db import open_store
from tests.conftest import Cli, as_newer_version
from tests.desktop import Desktop, desktop, wait_for
from tests.processes import PinnedClock, RunningAgent, query, run_cli

__all__ = ["desktop"]

BERLIN = ZoneInfo("Europe/Berlin")
QUIET = (
    '[general]\ntimezone = "Europe/Berlin"\nprompt_timeout_minutes = 1\n'
    "[desk]\ndays = []\n[sofa]\ndays = []\n[car]\ndays = []\n[circuit]\ndays = []\n"
)


@pytest.fixture
def agent_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    (home / "config.toml").write_text(QUIET, encoding="utf-8")
    return home


@pytest.fixture
def clock() -> PinnedClock:
    """A Wednesday noon in Berlin for every process a test starts, whatever the hour it runs."""
    return PinnedClock(datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN))


@pytest.fixture
def env(clock: PinnedClock) -> dict[str, str]:
    """The pinned clock, no session bus: what the agents and commands here run with."""
    return clock.env()


@pytest.fixture
def running(agent_home: Path, env: dict[str, str]) -> Iterator[RunningAgent]:
    agent = RunningAgent(agent_home, env=env)
    yield agent
    agent.stop()


def checkin_ids(db: Path) -> set[str]:
    return {str(r[0]) for r in query(db, "SELECT id FROM checkins")}


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def damage_a_page(db: Path) -> None:
    """Junk over the check-ins' root page; the header and schema still read (a command that only
    meets the schema would not notice, the agent's quick_check does)."""
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='checkins'").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    data[(root - 1) * size + 10 : (root - 1) * size + 400] = b"\xa5" * 390
    db.write_bytes(bytes(data))


def corrupt_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"garbage garbage!"
    db.write_bytes(bytes(data))


# --- the database at agent start -----------------------------------------------------------------


@pytest.mark.desktop
@pytest.mark.parametrize("damage", [corrupt_header, damage_a_page], ids=["not-a-database", "damaged-page"])
def test_damaged_database_at_agent_start(
    desktop: Desktop, agent_home: Path, damage: object, clock: PinnedClock
) -> None:
    env = clock.env(desktop.env, TZ="Europe/Berlin")
    for posture in ("upright", "slouched") * 10:
        assert run_cli(agent_home, "checkin", posture, env=env).returncode == 0
    good = Path(run_cli(agent_home, "backup", env=env).stdout.strip())
    paths = Paths.resolve(agent_home)
    checkpoint(paths.db_file)
    damage(paths.db_file)  # type: ignore[operator]
    damaged = paths.db_file.read_bytes()

    started = subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(agent_home), "start", "--no-tray"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert started.returncode == 3, started.stdout + started.stderr
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in started.stderr, started.stderr
    assert "damaged" in lines[0] and f"posture-agent restore {shlex.quote(str(good))}" in lines[0]
    assert "running" not in started.stdout
    moved = list(paths.data_dir.glob("posture-agent-damaged-*.db"))
    assert len(moved) == 1 and moved[0].read_bytes() == damaged  # kept exactly as it was
    assert not paths.db_file.exists()  # no empty database put in its place
    assert wait_for(lambda: "database problem" in desktop.notifications(), timeout=10), desktop.notifications()
    assert str(good.name) in desktop.notifications()  # the notification offers the same backup

    again = run_cli(agent_home, "start", "--no-tray", env=env)  # still refused, still nothing created
    assert again.returncode == 3 and shlex.quote(str(good)) in again.stderr
    assert not paths.db_file.exists() and moved[0].read_bytes() == damaged

    restored = run_cli(agent_home, "restore", str(good), env=env)  # the offered command works
    assert restored.returncode == 0, restored.stderr
    assert checkin_ids(paths.db_file) == checkin_ids(good)
    agent = RunningAgent(agent_home, env=env)
    assert agent.stop()[0] == 0


def test_newer_database_refused_untouched_at_agent_start(agent_home: Path, env: dict[str, str]) -> None:
    assert run_cli(agent_home, "checkin", "upright", env=env).returncode == 0
    paths = Paths.resolve(agent_home)
    before = as_newer_version(paths.db_file)

    started = run_cli(agent_home, "start", "--no-tray", env=env)
    assert started.returncode == 3
    line = started.stderr.strip()
    assert "\n" not in line and "newer posture-agent" in line and "untouched" in line
    assert "running" not in started.stdout
    assert paths.db_file.read_bytes() == before  # reading it (read-only) leaves SQLite's empty -wal/-shm only
    wal = paths.db_file.with_name(paths.db_file.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert not list(paths.data_dir.glob("*damaged*")) and not list(paths.backup_dir.glob("daily-*"))


# --- a broken config file ------------------------------------------------------------------------

BROKEN = QUIET.replace("prompt_timeout_minutes = 1", "prompt_timeout_minutes = 500")


@pytest.mark.desktop
def test_broken_config_agent_starts_with_defaults_and_says_which_line(
    desktop: Desktop, agent_home: Path, clock: PinnedClock
) -> None:
    env = clock.env(desktop.env, TZ="Europe/Berlin")
    config = agent_home / "config.toml"
    config.write_text(BROKEN, encoding="utf-8")
    original = config.read_bytes()
    stamp = config.stat().st_mtime_ns

    agent = RunningAgent(agent_home, env=env)
    try:
        runtime = Paths.resolve(agent_home).runtime_dir
        status = send(runtime, {"cmd": "status"})
        assert status["next_prompt"]["due"][11:16] != "23:59"
        assert wait_for(lambda: "config file has a mistake" in desktop.notifications(), timeout=10)
        assert "line 3" in desktop.notifications() and "prompt_timeout_minutes" in desktop.notifications()
        assert config.read_bytes() == original and config.stat().st_mtime_ns == stamp

        # the user fixes the file: the running agent takes it (SIGHUP here; housekeeping below)
        config.write_text(QUIET + '[drills]\ntime = "23:59"\n', encoding="utf-8")
        agent.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: send(runtime, {"cmd": "status"})["next_prompt"]["due"][11:16] == "23:59", timeout=10)
    finally:
        code, err = agent.stop()
    assert code == 0
    first = err.splitlines()[0]
    assert first.startswith("posture-agent: config error in ") and ", line 3: general.prompt_timeout_minutes" in first
    assert "default settings" in first
    log = (agent_home / "logs" / "posture-agent.log").read_text(encoding="utf-8")
    assert "line 3" in log and "config reloaded" in log


def test_fixed_config_is_picked_up_by_housekeeping(agent_home: Path) -> None:
    """The once-a-minute pass notices the file changed and reloads it: no restart, no signal."""
    config = agent_home / "config.toml"
    config.write_text(BROKEN, encoding="utf-8")
    paths = Paths.resolve(agent_home)
    paths.make_dirs()
    settings, problem = load_settings_or_defaults(config)
    assert problem is not None and problem.line == 3 and settings.prompt_timeout_minutes == 2
    store = open_store(paths.db_file, paths.backup_dir, check=True)
    clock = FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    agent = Agent(paths, settings, store, clock)
    try:
        agent.housekeeping()
        assert agent.settings.prompt_timeout_minutes == 2  # unchanged file: nothing to reload
        config.write_text(QUIET.replace("= 1\n", "= 7\n"), encoding="utf-8")
        agent.housekeeping()
        assert agent.settings.prompt_timeout_minutes == 7 and agent.settings.desk.days == frozenset()
        mistakes = (
            BROKEN + "# broken again\n", '[general]\ntimezone = "Europe/Berlin\n', '[desk]\ndays = ["funday"]\n',
            '[general]\ntimezone = "Mars/Olympus"\n', "\x00\xff binary junk",
        )
        for mistake in mistakes:  # a valid file would reset the timeout to the default 2
            config.write_text(mistake, encoding="utf-8")
            written = config.read_bytes()
            agent.housekeeping()
            assert agent.settings.prompt_timeout_minutes == 7, mistake  # the last good settings stay
            assert config.read_bytes() == written  # and the file as the user wrote it
    finally:
        store.close()


# --- the daily backup --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "first", "dst_day"),
    [("Europe/Berlin", date(2026, 10, 21), date(2026, 10, 25)),
     ("America/New_York", date(2026, 10, 28), date(2026, 11, 1))],
)
def test_one_daily_backup_per_local_day_across_dst(
    home: Path, monkeypatch: pytest.MonkeyPatch, zone: str, first: date, dst_day: date
) -> None:
    monkeypatch.setenv("TZ", zone)
    (home / "config.toml").write_text(QUIET.replace("Europe/Berlin", zone), encoding="utf-8")
    tz = ZoneInfo(zone)
    paths = Paths.resolve(home)
    paths.make_dirs()
    settings, problem = load_settings_or_defaults(paths.config_file)
    assert problem is None
    store = open_store(paths.db_file, paths.backup_dir, check=True)
    start = datetime.combine(first, datetime.min.time(), tz) + timedelta(hours=20)
    clock = FixedClock(start)
    agent = Agent(paths, settings, store, clock)
    made: dict[str, int] = {}  # backup name -> inode when first seen: made once, never redone
    days = 10
    try:
        agent.journal.record_checkin("upright")
        agent.daily_backup()  # what the start-up pass does
        end = start + timedelta(days=days)
        while clock.now() < end:
            clock.advance(minutes=20)
            agent.housekeeping()
            if clock.now().astimezone(tz).minute < 20:  # some data every hour, so backups differ
                agent.journal.record_checkin("slouched")
            for f in paths.backup_dir.glob("daily-*.db"):
                assert made.setdefault(f.name, f.stat().st_ino) == f.stat().st_ino, f"{f.name} was made again"
    finally:
        store.close()
    local_days = {(start + timedelta(hours=h)).astimezone(tz).date() for h in range(days * 24 + 1)}
    assert {f"daily-{d.isoformat()}.db" for d in local_days} == set(made)  # every day, the DST day too
    assert f"daily-{dst_day.isoformat()}.db" in made
    kept = sorted(f.name for f in paths.backup_dir.glob("daily-*.db"))
    assert kept == sorted(made)[-7:]  # the last 7 kept
    assert not list(paths.backup_dir.glob(".*.tmp*"))
    newest = paths.backup_dir / kept[-1]
    assert len(checkin_ids(newest)) >= 24 * (days - 1)  # a real copy of the data, not an empty file


def test_agent_makes_todays_backup_at_start(running: RunningAgent, agent_home: Path, clock: PinnedClock) -> None:
    paths = Paths.resolve(agent_home)
    today = clock.now().astimezone(BERLIN).date()
    assert wait_for(lambda: (paths.backup_dir / f"daily-{today.isoformat()}.db").exists(), timeout=15)
    assert (paths.backup_dir / f"daily-{today.isoformat()}.db").stat().st_mode & 0o777 == 0o600


def test_half_made_backup_of_a_killed_agent_is_cleared(agent_home: Path, env: dict[str, str]) -> None:
    assert run_cli(agent_home, "checkin", "upright", env=env).returncode == 0
    paths = Paths.resolve(agent_home)
    paths.backup_dir.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = paths.backup_dir / f".daily-2026-01-01.db.{dead.stdout.strip()}.tmp"
    leftover.write_bytes(b"half a copy")
    mine = paths.backup_dir / f".backup-x.db.{os.getpid()}.tmp"  # a live process's copy: left alone
    mine.write_bytes(b"in progress")
    agent = RunningAgent(agent_home, env=env)
    try:
        assert wait_for(lambda: not leftover.exists(), timeout=15)
    finally:
        assert agent.stop()[0] == 0
    assert mine.exists()


# --- restore while an agent runs -----------------------------------------------------------------


def test_restore_is_refused_while_an_agent_runs(agent_home: Path, env: dict[str, str]) -> None:
    for _ in range(3):
        assert run_cli(agent_home, "checkin", "upright", env=env).returncode == 0
    backup = Path(run_cli(agent_home, "backup", env=env).stdout.strip())
    assert run_cli(agent_home, "checkin", "slouched", env=env).returncode == 0
    paths = Paths.resolve(agent_home)
    agent = RunningAgent(agent_home, env=env)
    try:
        before = checkin_ids(paths.db_file)
        for args in (("restore", str(backup)), ("restore", "--fresh")):
            refused = run_cli(agent_home, *args, env=env)
            assert refused.returncode == 1, refused.stderr
            line = refused.stderr.strip()
            assert "\n" not in line and line.startswith("posture-agent: stop the agent first:")
            assert f"pid {agent.proc.pid}" in line and "Nothing was changed" in line
        assert checkin_ids(paths.db_file) == before
        assert not list(paths.backup_dir.glob("before-restore-*"))
        assert agent.proc.poll() is None
        assert run_cli(agent_home, "checkin", "standing", env=env).returncode == 0  # the agent's database still works
    finally:
        assert agent.stop()[0] == 0
    done = run_cli(agent_home, "restore", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    assert checkin_ids(paths.db_file) == checkin_ids(backup)
    assert len(list(paths.backup_dir.glob("before-restore-*.db"))) == 1


def test_start_during_a_restore_waits_its_turn(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The restore holds the agent's lock: an agent cannot start on a half-swapped database."""
    from posture_agent.agent.lock import AlreadyRunning, InstanceLock
    from posture_agent.store import restore as restore_module

    cli.ok("checkin", "upright")
    good = Path(cli.ok("backup").out.strip())
    seen: list[str] = []
    original = restore_module.restore

    def restore_and_try_a_start(paths: Paths, source: Path | None, now: datetime) -> object:
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(paths.runtime_dir).acquire()
        seen.append(str(refused.value))
        return original(paths, source, now)

    monkeypatch.setattr(restore_module, "restore", restore_and_try_a_start)
    cli.ok("restore", str(good))
    assert seen and "already running" in seen[0]
    lock = InstanceLock(Paths.resolve(cli.home).runtime_dir)
    lock.acquire()  # released after the restore
    lock.release()


# --- no network port ---------------------------------------------------------------------------


NETWORK_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:["):-1])
    return found


def inodes_in(table: str) -> set[str]:
    path = Path("/proc/net") / table
    if not path.exists():
        return set()
    rows = path.read_text().splitlines()[1:]
    column = 9 if table != "unix" else 6
    return {row.split()[column] for row in rows if len(row.split()) > column}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net to see sockets")
def test_agent_opens_no_network_port(agent_home: Path, clock: PinnedClock, env: dict[str, str]) -> None:
    due = clock.now() + timedelta(seconds=2)  # a prompt while we look: the notifier is used too
    start = due - timedelta(hours=2, minutes=30)
    assert run_cli(agent_home, "run", "add", "--distance-km", "5", "--duration", "30m",
                   "--at", start.isoformat(), env=env).returncode == 0
    agent = RunningAgent(agent_home, env=env)
    try:
        paths = Paths.resolve(agent_home)
        assert send(paths.runtime_dir, {"cmd": "status"})["ok"]
        assert wait_for(lambda: "soreness" in str(send(paths.runtime_dir, {"cmd": "status"})["open_prompts"]),
                        timeout=15)
        for _ in range(5):  # a few looks, as sockets come and go (a notification, a control request)
            first = socket_inodes(agent.proc.pid)
            tables = {name: inodes_in(name) for name in (*NETWORK_TABLES, "unix", "netlink")}
            second = socket_inodes(agent.proc.pid)
            assert first, "the agent should at least hold its control socket"
            for table in NETWORK_TABLES:
                assert not (first | second) & tables[table], f"the agent has a {table} socket"
            stable = first & second  # held across the whole look: it must be in a table we read
            assert stable <= tables["unix"] | tables["netlink"], "a socket that is neither Unix nor netlink"
            assert stable & tables["unix"]
            time.sleep(0.2)
    finally:
        assert agent.stop()[0] == 0


# --- doctor ------------------------------------------------------------------------------------


def test_doctor_shows_backups_and_the_agent_lock(agent_home: Path, clock: PinnedClock, env: dict[str, str]) -> None:
    def checks() -> dict[str, dict[str, object]]:
        import json

        out = run_cli(agent_home, "--json", "doctor", env=env)
        return {c["check"]: c for c in json.loads(out.stdout)["checks"]}

    assert run_cli(agent_home, "checkin", "upright", env=env).returncode == 0
    before = checks()
    assert before["backups"]["ok"] is False and before["backups"]["count"] == 0
    assert "posture-agent backup" in str(before["backups"]["fix"])
    assert "no agent running" in str(before["agent"]["detail"])

    agent = RunningAgent(agent_home, env=env)
    try:
        paths = Paths.resolve(agent_home)
        assert wait_for(lambda: list(paths.backup_dir.glob("daily-*.db")), timeout=15)
        during = checks()
        assert during["backups"]["ok"] is True and during["backups"]["count"] == 1
        assert "daily-" in str(during["backups"]["latest"])
        # the backup file's time is real, the doctor's "now" is pinned: the age is off by the skew
        age = int(str(during["backups"]["age_seconds"])) - clock.skew.total_seconds()
        assert -5 < age < 120, age
        assert "latest good: daily-" in str(during["backups"]["detail"])
        assert f"pid {agent.proc.pid}" in str(during["agent"]["detail"])
        text = run_cli(agent_home, "doctor", env=env).stdout
        assert "backups" in text and "latest good: daily-" in text and f"pid {agent.proc.pid}" in text
    finally:
        agent.proc.kill()
        agent.proc.wait()
    after = checks()
    assert "no agent running" in str(after["agent"]["detail"])
    assert f"left by pid {agent.proc.pid}" in str(after["agent"]["detail"])
    assert RunningAgent(agent_home, env=env).stop()[0] == 0  # and that stale lock does not block a start


def test_agent_in_a_home_with_spaces_and_non_ascii_letters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: PinnedClock, env: dict[str, str]
) -> None:
    """Paths a user really has: the lock, the control socket (too long for a socket path: it lives in
    a private folder of its own), the daily backup, pause and a refused restore all work."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    home = tmp_path / ("Jürgen Ødegård ñandú " + "long folder name " * 5).strip()
    home.mkdir()
    (home / "config.toml").write_text(QUIET, encoding="utf-8")
    assert run_cli(home, "checkin", "upright", env=env).returncode == 0
    backup = Path(run_cli(home, "backup", env=env).stdout.strip())
    agent = RunningAgent(home, env=env)
    try:
        paths = Paths.resolve(home)
        today = clock.now().astimezone(BERLIN).date()
        assert wait_for(lambda: (paths.backup_dir / f"daily-{today.isoformat()}.db").exists(), timeout=15)
        paused = run_cli(home, "pause", "1h", env=env)
        assert paused.returncode == 0, paused.stderr
        refused = run_cli(home, "restore", str(backup), env=env)
        assert refused.returncode == 1 and "stop the agent first" in refused.stderr
        assert run_cli(home, "resume", env=env).returncode == 0
    finally:
        assert agent.stop()[0] == 0
    assert run_cli(home, "restore", str(backup), env=env).returncode == 0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[general]\ntimezone = "Europe/Berlin\n', "line 2: (syntax)"),
        ('[general]\ntimezone = "Europe/Berlin"\n\n[desk]\ndays = ["funday"]\n', "line 5: desk.days"),
        ('[general]\ntimezone = "Mars/Olympus"\n', "line 2: general.timezone"),
        ("[sofa]\nstart = 25:00\n", "line 2"),
    ],
    ids=["syntax", "bad-day", "bad-zone", "bad-time"],
)
def test_agent_starts_whatever_the_config_mistake(agent_home: Path, text: str, where: str, env: dict[str, str]) -> None:
    config = agent_home / "config.toml"
    config.write_text(text, encoding="utf-8")
    written = config.read_bytes()
    agent = RunningAgent(agent_home, env=env)
    code, err = agent.stop()
    assert code == 0
    first = err.splitlines()[0]
    assert first.startswith(f"posture-agent: config error in {config}, ") and where in first, first
    assert "running with the default settings" in first
    assert config.read_bytes() == written
