"""The agent as users run it: `posture-agent start --no-tray` in a real subprocess, in real time.

A prompt a few seconds away comes from a real record: a run that ended just under
`after_run_hours` ago makes the soreness prompt due a few seconds after the agent starts.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.desktop import Desktop, desktop, wait_for

__all__ = ["desktop"]

BERLIN = ZoneInfo("Europe/Berlin")
SORENESS_TITLE = "How does your back feel after the run?"


def quiet_config(home: Path) -> None:
    """Only the 2-hours-after soreness prompts: no check-ins, no circuit, the drills half a day away
    and the next-morning soreness question later still, whatever the hour the suite runs at."""
    now = datetime.now(BERLIN)
    drills = (now + timedelta(hours=12)).strftime("%H:%M")
    morning = (now + timedelta(hours=15)).strftime("%H:%M")
    (home / "config.toml").write_text(
        '[general]\ntimezone = "Europe/Berlin"\nprompt_timeout_minutes = 1\n'
        "[desk]\ndays = []\n[sofa]\ndays = []\n[car]\ndays = []\n[circuit]\ndays = []\n"
        f'[drills]\ntime = "{drills}"\n[soreness]\nnext_morning = "{morning}"\n',
        encoding="utf-8",
    )


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(home), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )


def add_run_due_in(home: Path, seconds: float, env: dict[str, str] | None = None) -> datetime:
    """Log a 30-minute run whose 2-hours-after soreness prompt is due `seconds` from now."""
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    start = due - timedelta(hours=2, minutes=30)
    result = cli(home, "run", "add", "--distance-km", "5", "--duration", "30m", "--at", start.isoformat(), env=env)
    assert result.returncode == 0, result.stderr
    return due


class Running:
    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posture_agent", "--home", str(home), "start", "--no-tray"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "running" in line, f"agent did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def agent_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    quiet_config(home)
    return home


@pytest.fixture
def running(agent_home: Path) -> Iterator[Running]:
    agent = Running(agent_home, env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
    yield agent
    agent.stop()


def prompts(home: Path) -> list[tuple[str, str, str | None, str | None]]:
    conn = sqlite3.connect(home / "data" / "posture-agent.db")
    try:
        return conn.execute("SELECT kind, due, shown_at, outcome FROM prompts ORDER BY due").fetchall()
    finally:
        conn.close()


def test_second_start_says_one_is_running(running: Running) -> None:
    second = cli(running.home, "start", "--no-tray")
    assert second.returncode == 1
    assert "already running" in second.stderr and str(running.proc.pid) in second.stderr
    assert running.proc.poll() is None  # the first one is unaffected
    assert running.stop() == 0


def test_a_killed_agent_leaves_no_blocking_lock(agent_home: Path) -> None:
    first = Running(agent_home)
    first.proc.kill()
    first.proc.wait()
    second = Running(agent_home)  # the lock file is still there, but not locked
    assert second.stop() == 0


def test_pause_and_resume_reach_the_running_agent(agent_home: Path) -> None:
    due = add_run_due_in(agent_home, 15)
    agent = Running(agent_home, env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
    try:
        paused = cli(agent_home, "pause", "30m", "--json")
        assert paused.returncode == 0, paused.stderr
        assert datetime.now(UTC) < due, "machine too slow: the pause came after the prompt's time"
        until = datetime.fromisoformat(json.loads(paused.stdout)["paused_until"])
        assert abs((until - datetime.now(UTC)) - timedelta(minutes=30)) < timedelta(seconds=10)
        time.sleep((due - datetime.now(UTC)).total_seconds() + 3)  # the prompt's time passes in the pause
        assert prompts(agent_home) == []
        resumed = cli(agent_home, "resume", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["paused_until"] is None
        time.sleep(1)
        assert prompts(agent_home) == []  # what fell in the pause is not shown late
        # what comes next is in the future (the drills, half a day away)
        nxt = json.loads(resumed.stdout)["next_prompt"]
        assert nxt["kind"] == "drills" and datetime.fromisoformat(nxt["due"]) > datetime.now(UTC)
    finally:
        assert agent.stop() == 0
    assert not (agent_home / "data" / "run" / "agent.sock").exists()


def test_pause_without_a_running_agent_says_so(agent_home: Path) -> None:
    result = cli(agent_home, "pause", "1h")
    assert result.returncode == 1
    assert "no agent is running" in result.stderr
    bad = cli(agent_home, "pause", "3h")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_no_notification_daemon_does_not_stop_the_agent(agent_home: Path) -> None:
    due = add_run_due_in(agent_home, 3)
    agent = Running(agent_home, env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
    try:
        assert wait_for(lambda: len(prompts(agent_home)) == 1, timeout=15)
        assert prompts(agent_home)[0][0] == "soreness"
        assert agent.proc.poll() is None
    finally:
        assert agent.stop() == 0
    log = (agent_home / "logs" / "posture-agent.log").read_text()
    assert log.count("desktop notifications are unavailable") == 1
    assert due < datetime.now(UTC)


@pytest.mark.desktop
def test_prompt_reaches_dunst_on_time(desktop: Desktop, agent_home: Path) -> None:
    env = dict(desktop.env, TZ="Europe/Berlin")
    due = add_run_due_in(agent_home, 4, env=env)
    agent = Running(agent_home, env=env)
    try:
        assert wait_for(lambda: SORENESS_TITLE in desktop.notifications(), timeout=20), desktop.notifications()
        rows = prompts(agent_home)
        assert [r[0] for r in rows] == ["soreness"]
        shown = datetime.fromisoformat(str(rows[0][2])).replace(tzinfo=UTC)
        assert shown >= due - timedelta(seconds=1)
        assert "posture-agent" in desktop.notifications()
    finally:
        assert agent.stop() == 0


def test_sighup_reloads_the_config_of_the_running_agent(running: Running) -> None:
    from posture_agent.agent.control import send

    runtime = running.home / "data" / "run"
    before = send(runtime, {"cmd": "status"})["next_prompt"]
    assert before["kind"] == "drills"
    soon = (datetime.now(BERLIN) + timedelta(hours=2)).strftime("%H:%M")
    text = (running.home / "config.toml").read_text(encoding="utf-8")
    (running.home / "config.toml").write_text(text.replace(before["due"][11:16], soon), encoding="utf-8")
    running.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: send(runtime, {"cmd": "status"})["next_prompt"]["due"][11:16] == soon, timeout=10)


def test_the_resident_agent_stays_lean(agent_home: Path) -> None:
    """No charts, Tk, file parsers or migrations loaded in a running agent on a current database."""
    assert cli(agent_home, "schedule").returncode == 0  # creates and migrates the database first
    code = (
        "import sys, time\n"
        "from posture_agent.cli import main\n"
        "import threading, signal, os\n"
        "threading.Timer(3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        f"main(['--home', {str(agent_home)!r}, 'start', '--no-tray'])\n"
        "heavy = [m for m in ('matplotlib', 'tkinter', 'alembic', 'gpxpy', 'fitdecode', 'lxml', 'PIL', 'pystray')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
