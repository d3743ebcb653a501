"""The agent as users run it: `posture-agent start --no-tray` in a real subprocess, in real time,
on a wall clock pinned to a Wednesday noon in Berlin (tests/processes.py), whatever the hour.

A prompt a few seconds away comes from a real record: a run that ended just under
`after_run_hours` ago makes the soreness prompt due a few seconds after the agent starts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.desktop import Desktop, desktop, wait_for
from tests.processes import PinnedClock, RunningAgent, rows, run_cli

__all__ = ["desktop"]

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
SORENESS_TITLE = "How does your back feel after the run?"
QUIET = (
    '[general]\ntimezone = "Europe/Berlin"\nprompt_timeout_minutes = 1\n'
    "[desk]\ndays = []\n[sofa]\ndays = []\n[car]\ndays = []\n[circuit]\ndays = []\n"
    '[drills]\ntime = "20:00"\n[soreness]\nnext_morning = "08:00"\n'
)


def add_run_due_in(home: Path, seconds: float, clock: PinnedClock, env: dict[str, str] | None = None) -> datetime:
    """Log a 30-minute run whose 2-hours-after soreness prompt is due `seconds` from `clock`'s now."""
    due = clock.now() + timedelta(seconds=seconds)
    start = due - timedelta(hours=2, minutes=30)
    result = run_cli(
        home, "run", "add", "--distance-km", "5", "--duration", "30m", "--at", start.isoformat(), env=env or clock.env()
    )
    assert result.returncode == 0, result.stderr
    return due


@pytest.fixture
def clock() -> PinnedClock:
    """Noon: the drills (20:00) are the next prompt, the morning soreness question (08:00) later."""
    return PinnedClock(NOON)


@pytest.fixture
def agent_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only the 2-hours-after soreness prompts: no check-ins, no circuit, the drills at 20:00."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    (home / "config.toml").write_text(QUIET, encoding="utf-8")
    return home


@pytest.fixture
def running(agent_home: Path, clock: PinnedClock) -> Iterator[RunningAgent]:
    agent = RunningAgent(agent_home, env=clock.env())
    yield agent
    agent.stop()


def prompts(home: Path) -> list[tuple[object, ...]]:
    return rows(home, "SELECT kind, due, shown_at, outcome FROM prompts ORDER BY due")


def test_second_start_says_one_is_running(running: RunningAgent, clock: PinnedClock) -> None:
    second = run_cli(running.home, "start", "--no-tray", env=clock.env())
    assert second.returncode == 1
    assert "already running" in second.stderr and str(running.proc.pid) in second.stderr
    assert running.proc.poll() is None  # the first one is unaffected
    assert running.stop()[0] == 0


def test_a_killed_agent_leaves_no_blocking_lock(agent_home: Path, clock: PinnedClock) -> None:
    first = RunningAgent(agent_home, env=clock.env())
    first.proc.kill()
    first.proc.wait()
    second = RunningAgent(agent_home, env=clock.env())  # the lock file is still there, but not locked
    assert second.stop()[0] == 0


def test_pause_and_resume_reach_the_running_agent(agent_home: Path) -> None:
    """A soreness prompt falls in the pause; after the resume the drills come due, and the pass that
    shows them would show the soreness prompt too (it is still in its grace time) if the resume did
    not keep it out."""
    clock = PinnedClock(datetime(2026, 11, 25, 11, 59, 30, tzinfo=BERLIN))  # the drills at 12:00, 30 s on
    (agent_home / "config.toml").write_text(QUIET.replace('"20:00"', '"12:00"'), encoding="utf-8")
    due = add_run_due_in(agent_home, 12, clock)
    agent = RunningAgent(agent_home, env=clock.env())
    try:
        paused = run_cli(agent_home, "pause", "30m", "--json", env=clock.env())
        assert paused.returncode == 0, paused.stderr
        assert clock.now() < due, "machine too slow: the pause came after the prompt's time"
        until = datetime.fromisoformat(json.loads(paused.stdout)["paused_until"])
        assert abs((until - clock.now()) - timedelta(minutes=30)) < timedelta(seconds=10)
        assert not wait_for(lambda: prompts(agent_home) != [], timeout=(due - clock.now()).total_seconds() + 3)
        resumed = run_cli(agent_home, "resume", "--json", env=clock.env())
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["paused_until"] is None
        nxt = json.loads(resumed.stdout)["next_prompt"]
        assert nxt["kind"] == "drills" and datetime.fromisoformat(nxt["due"]) > clock.now()
        drills = datetime.fromisoformat(nxt["due"])
        assert wait_for(lambda: prompts(agent_home) != [], timeout=(drills - clock.now()).total_seconds() + 10)
        assert [r[0] for r in prompts(agent_home)] == ["drills"]  # what fell in the pause is not shown late
    finally:
        assert agent.stop()[0] == 0
    assert not (agent_home / "data" / "run" / "agent.sock").exists()


def test_stop_ends_a_headless_agent_and_says_when_none_runs(agent_home: Path, clock: PinnedClock) -> None:
    """`posture-agent stop` (the way to quit an agent whose tray failed): exit 0 from both, and a
    second `start` works at once; without an agent it says so and exits 1."""
    agent = RunningAgent(agent_home, env=clock.env())
    done = run_cli(agent_home, "stop", env=clock.env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "The agent has stopped."
    assert agent.proc.wait(timeout=10) == 0
    again = run_cli(agent_home, "stop", env=clock.env())
    assert again.returncode == 1 and "no agent is running" in again.stderr
    second = RunningAgent(agent_home, env=clock.env())
    assert second.stop()[0] == 0


def test_pause_without_a_running_agent_says_so(agent_home: Path, clock: PinnedClock) -> None:
    result = run_cli(agent_home, "pause", "1h", env=clock.env())
    assert result.returncode == 1
    assert "no agent is running" in result.stderr
    bad = run_cli(agent_home, "pause", "3h", env=clock.env())
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_no_notification_daemon_does_not_stop_the_agent(agent_home: Path, clock: PinnedClock) -> None:
    due = add_run_due_in(agent_home, 3, clock)
    agent = RunningAgent(agent_home, env=clock.env())
    try:
        assert wait_for(lambda: len(prompts(agent_home)) == 1, timeout=15)
        assert prompts(agent_home)[0][0] == "soreness"
        assert agent.proc.poll() is None
    finally:
        assert agent.stop()[0] == 0
    log = (agent_home / "logs" / "posture-agent.log").read_text()
    assert log.count("desktop notifications are unavailable") == 1
    assert due < clock.now()


@pytest.mark.desktop
def test_prompt_reaches_dunst_on_time(desktop: Desktop, agent_home: Path, clock: PinnedClock) -> None:
    env = clock.env(desktop.env, TZ="Europe/Berlin")
    due = add_run_due_in(agent_home, 4, clock, env=env)
    agent = RunningAgent(agent_home, env=env)
    try:
        assert wait_for(lambda: SORENESS_TITLE in desktop.notifications(), timeout=20), desktop.notifications()
        shown_rows = prompts(agent_home)
        assert [r[0] for r in shown_rows] == ["soreness"]
        shown = datetime.fromisoformat(str(shown_rows[0][2])).replace(tzinfo=UTC)
        assert shown >= due - timedelta(seconds=1)
        assert "posture-agent" in desktop.notifications()
    finally:
        assert agent.stop()[0] == 0


def test_sighup_reloads_the_config_of_the_running_agent(running: RunningAgent) -> None:
    from posture_agent.agent.control import send

    runtime = running.home / "data" / "run"
    before = send(runtime, {"cmd": "status"})["next_prompt"]
    assert before["kind"] == "drills" and before["due"][11:16] == "20:00"
    text = (running.home / "config.toml").read_text(encoding="utf-8")
    (running.home / "config.toml").write_text(text.replace('"20:00"', '"14:00"'), encoding="utf-8")
    running.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: send(runtime, {"cmd": "status"})["next_prompt"]["due"][11:16] == "14:00", timeout=10)


def test_the_resident_agent_stays_lean(agent_home: Path, clock: PinnedClock) -> None:
    """No charts, Tk, file parsers or migrations loaded in a running agent on a current database."""
    assert run_cli(agent_home, "schedule", env=clock.env()).returncode == 0  # creates and migrates the database
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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clock.env())
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
