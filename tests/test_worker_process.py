"""The resident's database work in its worker process (agent/worker_client.py, worker.py), with the
real processes: the agent core in this process (as `start` builds it), the worker a real child on a
real SQLite file. A press is stored once; the worker exits when idle and comes back; a worker killed
in the middle of a save, a busy database and a worker that cannot start lose no answer. And the
real `posture-agent start` holds no SQLAlchemy and no store after prompts were answered.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.agent.core import AgentCore
from posture_agent.agent.housekeeping import data_files_stamp
from posture_agent.agent.worker_client import WorkerChores, WorkerJournal, WorkerLink, worker_command
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.paths import Paths
from posture_agent.presence.base import NoWatch, always_present
from tests.desktop import wait_for
from tests.processes import PinnedClock, rows, run_cli

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
"""A Wednesday: the desk check-in of 12:00 is due."""
CONFIG = '[general]\ntimezone = "Europe/Berlin"\n[sofa]\ndays = []\n[car]\ndays = []\n[circuit]\ndays = []\n'
CANNOT_START = [sys.executable, "-c", "import sys; sys.exit(3)"]


class Resident:
    """The agent core on a worker link, as `posture-agent start` builds it (no tray, no notifier)."""

    def __init__(self, home: Path, idle_seconds: float = 60) -> None:
        (home / "config.toml").write_text(CONFIG, encoding="utf-8")
        self.paths = Paths.resolve(home)
        self.paths.make_dirs()
        self.clock = FixedClock(NOON)
        settings = load_settings(self.paths.config_file)
        self.link = WorkerLink(self.paths, idle_seconds=idle_seconds)
        self.told: list[str] = []
        self.link.tell = self.told.append
        journal = WorkerJournal(self.link, settings, self.clock)
        chores = WorkerChores(self.link, lambda: self.agent.settings, self.clock)
        self.agent = AgentCore(self.paths, journal, chores, self.clock, presence=always_present, watch=NoWatch())

    def checkins(self) -> list[tuple[object, ...]]:
        return rows(self.paths.data_dir.parent, "SELECT posture, prompted FROM checkins")

    def close(self) -> None:
        self.agent.stop()


@pytest.fixture
def resident(home: Path) -> Iterator[Resident]:
    made = Resident(home)
    yield made
    made.close()


def locked(db: Path) -> sqlite3.Connection:
    """A connection holding the database's write lock (as another program writing a long while)."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_press_is_stored_once_by_the_worker_which_leaves_when_idle(home: Path) -> None:
    resident = Resident(home, idle_seconds=1)
    try:
        [active] = resident.agent.tick()
        assert active.prompt.kind == "checkin" and active.prompt.context == "desk"
        assert resident.agent.answer_later(active, "slouched").result(timeout=10) == {}
        assert resident.checkins() == [("slouched", 1)]
        assert rows(home, "SELECT outcome FROM prompts") == [("answered",)]
        assert wait_for(lambda: not resident.link.running(), timeout=10)  # a second idle: it has left
        assert resident.agent.status().open_prompts == ()  # the status lines start it again
        assert resident.link.starts == 2
    finally:
        resident.close()
    assert not resident.link.running()


def test_a_worker_killed_in_the_middle_of_a_save_keeps_the_answer_and_stores_it_once(resident: Resident) -> None:
    [active] = resident.agent.tick()
    conn = locked(resident.paths.db_file)
    try:
        saving = resident.agent.answer_later(active, "upright")
        pid = resident.link.pid()
        assert pid is not None
        wait_for(lambda: False, timeout=0.5)  # the worker waits for the lock inside its transaction
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: resident.link.starts == 2, timeout=5)
    finally:
        conn.rollback()
        conn.close()
    assert saving.result(timeout=30) == {}
    assert resident.checkins() == [("upright", 1)]
    assert resident.link.starts == 2
    assert active.id not in {a.id for a in resident.agent.status().open_prompts}


def test_a_busy_database_is_waited_for_and_the_answer_saved(
        resident: Resident, caplog: pytest.LogCaptureFixture) -> None:
    [active] = resident.agent.tick()
    conn = locked(resident.paths.db_file)
    releaser = threading.Timer(6.5, lambda: (conn.rollback(), conn.close()))  # past the 5 s busy timeout
    releaser.start()
    with caplog.at_level(logging.WARNING, logger="posture_agent.agent.core"):
        assert resident.agent.answer_later(active, "standing").result(timeout=30) == {}
    releaser.join()
    assert resident.checkins() == [("standing", 1)]
    assert any("trying again" in r.getMessage() for r in caplog.records)
    assert resident.link.starts == 1  # the worker was busy, never lost


def test_a_worker_that_cannot_start_is_said_once_and_the_answer_kept_until_it_can(
        resident: Resident, caplog: pytest.LogCaptureFixture) -> None:
    [active] = resident.agent.tick()
    resident.link.command = CANNOT_START
    pid = resident.link.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with caplog.at_level(logging.INFO):
        saving = resident.agent.answer_later(active, "slouched")
        assert wait_for(lambda: len([r for r in caplog.records if "trying again" in r.getMessage()]) >= 3, timeout=15)
        assert not saving.done()
        resident.agent._guard(resident.agent.tick)()  # a job meanwhile: logged, the agent goes on
        resident.link.command = worker_command()
        assert saving.result(timeout=30) == {}
    assert resident.checkins() == [("slouched", 1)]
    assert len(resident.told) == 1 and "ended as it started" in resident.told[0]
    errors = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR and "worker process" in r.getMessage()]
    assert len(errors) == 1, errors


RESIDENT = """
import json, os, signal, sys, threading, time
from pathlib import Path
from posture_agent.agent.control import send
from posture_agent.cli import main

home = sys.argv[1]
runtime = Path(home) / "data" / "run"

def answer():
    try:
        answered()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)

def answered():
    status = None
    for _ in range(200):
        try:
            status = send(runtime, {"cmd": "status"}, timeout=2)
            if status["open_prompts"]:
                break
        except Exception:
            pass
        time.sleep(0.1)
    prompt = status["open_prompts"][0]["id"]
    replies = [send(runtime, {"cmd": "answer", "prompt": prompt, "posture": "upright", "context": "desk"}),
               send(runtime, {"cmd": "checkin", "posture": "standing", "context": "desk"}),
               send(runtime, {"cmd": "circuit", "rounds": 2})]
    print("REPLIES", json.dumps(replies), flush=True)

threading.Thread(target=answer, daemon=True).start()
code = main(["--home", home, "start", "--no-tray"])
held = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic")
              or m == "posture_agent.journal" or m.startswith("posture_agent.store"))
print("HELD", json.dumps(held), "EXIT", code, flush=True)
"""


def test_the_resident_holds_no_store_after_prompts_were_answered(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = PinnedClock(NOON)
    monkeypatch.setenv("TZ", "Europe/Berlin")
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    earlier = PinnedClock(NOON - timedelta(hours=3)).env()
    installed = run_cli(home, "schedule", env=earlier)  # the install, before the check-in due at 12:00
    assert installed.returncode == 0, installed.stderr
    out = subprocess.run([sys.executable, "-c", RESIDENT, str(home)], capture_output=True, text=True, timeout=90,
                         env=clock.env())
    assert "HELD [] EXIT 0" in out.stdout, out.stdout + out.stderr
    assert "REPLIES" in out.stdout, out.stdout + out.stderr
    replies = json.loads(out.stdout.split("REPLIES ", 1)[1].splitlines()[0])
    assert all(r["ok"] for r in replies), replies
    assert sorted(rows(home, "SELECT posture, prompted FROM checkins")) == [("standing", 0), ("upright", 1)]
    assert rows(home, "SELECT rounds FROM circuits") == [(2,)]


def test_the_workers_own_writes_and_exit_are_not_news_but_a_command_s_record_is(home: Path) -> None:
    """Otherwise each worker's exit (its connection's close checkpoints the WAL) would look like a
    record from elsewhere at the next housekeeping minute, which would start the worker again."""
    resident = Resident(home, idle_seconds=1)
    try:
        [active] = resident.agent.tick()
        resident.agent.answer_later(active, "upright").result(timeout=10)
        assert wait_for(lambda: not resident.link.running(), timeout=10)
        assert not resident.agent.chores.data_changed(data_files_stamp(resident.paths.db_file))
        at = NOON.isoformat()
        assert run_cli(home, "checkin", "slouched", "--at", at, env=PinnedClock(NOON).env()).returncode == 0
        assert resident.agent.chores.data_changed(data_files_stamp(resident.paths.db_file))
    finally:
        resident.close()
