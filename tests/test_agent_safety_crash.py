"""The running agent killed (SIGKILL) again and again while it writes, restarted each time.

Each round runs `posture-agent start --no-tray` through the real entry point (`cli.main`) in a
process of its own, with the clock moved on 50 minutes of work day from the round before: at start
the agent closes the previous round's check-in prompt as `missed` (a check-in row and the prompt's
outcome), shows the one now due (a prompts row), and makes the day's backup on a new day. The test
kills it at a random moment: while its worker process opens the database, while it writes, or just
after (the worker sees its pipe close and ends; what it committed stays). Meanwhile
`posture-agent checkin` processes record answers; an answer counts as acknowledged when the
command exited 0 and printed its id.

Rounds are forked from a small "zygote" process that has already imported the package, so a round
costs a fork rather than an interpreter start (hundreds of rounds in well under a minute); a few
rounds start a fresh interpreter (`python -m posture_agent`), as a login would, its clock pinned to the
round's time by libfaketime (tests/processes.py) so that every round meets the prompts of its own time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.paths import Paths
from tests.processes import PinnedClock, query

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX) for the zygote")

KILLS = int(os.environ.get("POSTURE_AGENT_AGENT_KILLS", "120"))
FRESH_INTERPRETER_ROUNDS = 4
BERLIN = ZoneInfo("Europe/Berlin")
TIMEOUT_MINUTES = 1

HOOKS = Path(__file__).with_name("worker_kill_hook")
"""A `sitecustomize` that makes the worker process (`--worker-process`) SIGKILL itself just before
its Nth write statement or commit, once per marker file (the worker started again does not)."""

ZYGOTE = r'''
import os, sys, signal
HOOKS = sys.argv[1]
from datetime import datetime
import posture_agent.cli, posture_agent.commands, posture_agent.agent.runtime  # the costly imports, once
import posture_agent.agent.startup, posture_agent.store.backup, apscheduler.schedulers.background
import apscheduler.triggers.date, apscheduler.triggers.interval, apscheduler.executors.pool
from posture_agent.clock import FixedClock, SystemClock

def child(argv, at, kill_at, out):
    if kill_at:  # the writes are the worker process's: it kills itself before its Nth one, once
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (HOOKS, os.environ.get("PYTHONPATH")) if p)
        os.environ["KILL_WORKER_BEFORE_WRITE"] = str(kill_at)
        os.environ["KILL_WORKER_MARK"] = out + ".kill"
        open(out + ".kill", "w").close()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0); os.dup2(fd, 1); os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1); sys.stderr = sys.stdout
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    clock = FixedClock(datetime.fromisoformat(at)) if at != "-" else SystemClock()
    code = 1
    try:
        code = posture_agent.cli.main(argv, clock=clock, out=sys.stdout)
    finally:
        sys.stdout.flush()
        os._exit(code)

for line in sys.stdin:
    request = line.split("\t")
    if request[0] == "run":
        _, at, kill_at, out, *argv = [part.strip() for part in request]
        pid = os.fork()
        if pid == 0:
            child(argv, at, int(kill_at), out)
        print(pid, flush=True)
    elif request[0] == "reap":
        _, status = os.waitpid(int(request[1]), 0)
        print(status, flush=True)
'''


class Zygote:
    """Forks agent and check-in processes on request (one lock: several test threads use it)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(HOOKS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env,
        )
        self.lock = threading.Lock()

    def _ask(self, *parts: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write("\t".join(parts) + "\n")
            self.proc.stdin.flush()
            return self.proc.stdout.readline().strip()

    def run(self, at: str, out: Path, *argv: str, kill_at: int = 0) -> int:
        """Fork `posture-agent ARGV` at clock `at` ("-": the real clock); with `kill_at` N its
        worker process SIGKILLs itself just before its Nth write statement or commit (once)."""
        return int(self._ask("run", at, str(kill_at), str(out), *argv))

    def reap(self, pid: int) -> int:
        """Wait for the process to end; its wait status."""
        return int(self._ask("reap", str(pid)))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def work_times(start: datetime, count: int) -> list[datetime]:
    """`count` times 50 minutes apart inside Berlin work hours (09:10 to 17:10), weekdays only."""
    times: list[datetime] = []
    day = start
    while len(times) < count:
        if day.weekday() < 5:
            at = day.replace(hour=9, minute=10)
            while at.hour < 17 and len(times) < count:
                times.append(at)
                at += timedelta(minutes=50)
        day += timedelta(days=1)
    return times


def wait_for_text(path: Path, texts: tuple[str, ...], timeout: float, pid: int) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            content = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            content = ""
        if any(t in content for t in texts):
            return content
        if not Path(f"/proc/{pid}").exists() and sys.platform.startswith("linux"):
            return content
        time.sleep(0.003)
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class CheckinWriter(threading.Thread):
    """`posture-agent checkin` processes, one after another, while the agent is being killed."""

    def __init__(self, zygote: Zygote, home: Path, outdir: Path) -> None:
        super().__init__(daemon=True)
        self.zygote, self.home, self.outdir = zygote, home, outdir
        self.acknowledged: set[str] = set()
        self.refused: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        postures = ("upright", "slouched", "standing")
        while not self.stop.is_set():
            out = self.outdir / f"checkin-{n}.out"
            pid = self.zygote.run("-", out, "--home", str(self.home), "--json", "checkin", postures[n % 3])
            status = self.zygote.reap(pid)
            text = out.read_text(encoding="utf-8")
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                self.acknowledged.add(json.loads(text)["id"])
            else:
                self.refused.append(text)  # e.g. busy for 5 s: said so, nothing acknowledged
            n += 1


@pytest.fixture
def agent_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    (home / "config.toml").write_text(
        f'[general]\ntimezone = "Europe/Berlin"\nprompt_timeout_minutes = {TIMEOUT_MINUTES}\n',
        encoding="utf-8",
    )
    return home


@pytest.fixture
def zygote(agent_home: Path) -> Iterator[Zygote]:
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent", TZ="Europe/Berlin")
    z = Zygote(env)
    yield z
    z.close()


def test_agent_killed_while_writing_loses_nothing_and_repeats_nothing(
    agent_home: Path, zygote: Zygote, tmp_path: Path
) -> None:
    paths = Paths.resolve(agent_home)
    outdir = tmp_path / "out"
    outdir.mkdir()
    rng = random.Random(20261125)
    times = work_times(datetime(2030, 1, 7, tzinfo=BERLIN), KILLS + 1)  # a future Monday: no job fires
    fresh_rounds = set(rng.sample(range(1, KILLS), FRESH_INTERPRETER_ROUNDS))
    writer = CheckinWriter(zygote, agent_home, outdir)
    writer.start()
    kills = started = blocked = 0
    try:
        for n, at in enumerate(times[:KILLS]):
            out = outdir / f"agent-{n}.out"
            if n in fresh_rounds:  # a whole new interpreter, as a login runs it, at the round's time
                proc = subprocess.Popen(
                    [sys.executable, "-m", "posture_agent", "--home", str(agent_home), "start", "--no-tray"],
                    stdout=out.open("w"), stderr=subprocess.STDOUT,
                    env=PinnedClock(at).env(),
                )
                text = wait_for_text(out, ("running", "already running"), 30, proc.pid)
                time.sleep(rng.uniform(0, 0.05))
                proc.kill()
                proc.wait()
                status = 0 if proc.returncode == -signal.SIGKILL else 1
                killed = proc.returncode == -signal.SIGKILL
            else:
                pid = zygote.run(at.isoformat(), out, "--home", str(agent_home), "start", "--no-tray")
                if rng.random() < 0.35:  # any moment from the start: opening, checking, first writes
                    time.sleep(rng.uniform(0, 0.15))
                    text = ""
                else:  # just after it says it runs: the start-up pass is writing
                    text = wait_for_text(out, ("running", "already running"), 30, pid)
                    time.sleep(rng.uniform(0, 0.06))
                os.kill(pid, signal.SIGKILL)
                status = zygote.reap(pid)
                killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            text = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""  # killed before it
            kills += killed
            started += "posture-agent running" in text
            blocked += "already running" in text
            assert "Traceback" not in text and "unexpected error" not in text, text
            assert killed or "posture-agent running" in text, f"round {n}: ended by itself: {text}"
    finally:
        writer.stop.set()
        writer.join(timeout=60)

    # one last start, left to finish its start-up pass, then stopped as a user would
    final = times[KILLS]
    before = query(paths.db_file, "SELECT COUNT(*) FROM prompts")[0][0]
    out = outdir / "final.out"
    pid = zygote.run(final.isoformat(), out, "--home", str(agent_home), "start", "--no-tray")
    assert "posture-agent running" in wait_for_text(out, ("running",), 30, pid), out.read_text()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and query(paths.db_file, "SELECT COUNT(*) FROM prompts")[0][0] == before:
        time.sleep(0.05)
    time.sleep(0.5)  # the start-up pass ends with the day's backup
    os.kill(pid, signal.SIGTERM)
    status = zygote.reap(pid)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out.read_text()

    assert kills >= 100 and blocked == 0
    assert started >= kills * 0.5, f"only {started} of {kills} rounds got as far as running"
    db = paths.db_file
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    stored = {str(r[0]) for r in query(db, "SELECT id FROM checkins")}
    for text in writer.refused:  # a refused check-in said why in one line
        assert text.count("\n") == 1 and "Traceback" not in text and "unexpected" not in text, text
    assert len(writer.acknowledged) >= 20, "too few check-ins ran beside the agent to mean anything"
    assert writer.acknowledged <= stored, f"lost: {writer.acknowledged - stored}"
    # no prompt shown twice, no miss recorded twice
    assert query(db, "SELECT kind, due FROM prompts GROUP BY kind, due HAVING COUNT(*) > 1") == []
    assert query(
        db, "SELECT at, context FROM checkins WHERE posture = 'missed' GROUP BY at, context HAVING COUNT(*) > 1"
    ) == []
    missed_prompts = query(db, "SELECT COUNT(*) FROM prompts WHERE kind LIKE 'checkin%' AND outcome = 'missed'")
    missed_checkins = query(db, "SELECT COUNT(*) FROM checkins WHERE posture = 'missed'")
    assert missed_prompts == missed_checkins
    shown = query(db, "SELECT COUNT(*) FROM prompts")[0][0]
    assert isinstance(shown, int) and shown >= 20, "the agent wrote too little to test anything"
    # everything shown before the last start was closed by a later start (the last one's are open)
    still_open = query(db, "SELECT kind, due, shown_at FROM prompts WHERE outcome IS NULL")
    final_utc = final.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    assert all(
        datetime.fromisoformat(str(row[2])).replace(tzinfo=None) >= final_utc - timedelta(minutes=TIMEOUT_MINUTES)
        for row in still_open
    ), still_open
    # daily backups: one per local day, at most 7 kept, each sound; no half-made copy left behind
    daily = sorted(paths.backup_dir.glob("daily-*.db"))
    assert 1 <= len(daily) <= 7
    for backup in daily:
        assert query(backup, "PRAGMA quick_check") == [("ok",)]
    assert not list(paths.backup_dir.glob(".*.tmp*"))
    print(
        f"\nkills {kills}, rounds running when killed {started}, acknowledged check-ins "
        f"{len(writer.acknowledged)} (refused {len(writer.refused)}: {writer.refused}), prompts {shown}, "
        f"missed {missed_checkins[0][0]}, daily backups {len(daily)}"
    )


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to see the process end")
def test_agent_killed_before_each_of_its_writes(agent_home: Path, zygote: Zygote, tmp_path: Path) -> None:
    """Not random: the start-up pass's worker process (where the writes are) is killed just before its
    1st, 2nd, 3rd… write or commit, in turn, each time from the same state; the agent starts another
    worker and sends the request again; then the agent is stopped and started again. Whatever the
    point, the result is the same: the previous prompt closed once as missed, with exactly one
    `missed` check-in, and the due prompts shown once."""
    base_home = tmp_path / "base"
    shutil.copytree(agent_home, base_home)
    monday = datetime(2030, 1, 7, 16, 40, tzinfo=BERLIN)  # the 16:30 check-in is shown
    tuesday = datetime(2030, 1, 8, 9, 10, tzinfo=BERLIN)  # it has timed out; the 09:00 one and the drills are due
    out = tmp_path / "base.out"
    pid = zygote.run(monday.isoformat(), out, "--home", str(base_home), "start", "--no-tray")
    db = Paths.resolve(base_home).db_file
    assert "running" in wait_for_text(out, ("running",), 30, pid)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (db.exists() and query(db, "SELECT COUNT(*) FROM prompts")[0][0]):
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(pid, signal.SIGTERM)
    zygote.reap(pid)
    assert query(db, "SELECT COUNT(*) FROM prompts WHERE outcome IS NULL") == [(1,)]

    points = 0
    for kill_at in range(1, 40):
        home = tmp_path / f"kill-{kill_at}"
        shutil.copytree(base_home, home)
        db = Paths.resolve(home).db_file
        out = tmp_path / f"kill-{kill_at}.out"
        pid = zygote.run(tuesday.isoformat(), out, "--home", str(home), "start", "--no-tray", kill_at=kill_at)
        mark = Path(f"{out}.kill")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not zombie(pid):
            if query(db, "SELECT COUNT(*) FROM prompts WHERE due > '2030-01-08'")[0][0] >= 2 and list(
                Paths.resolve(home).backup_dir.glob("daily-2030-01-08.db")
            ):
                time.sleep(0.3)
                break
            time.sleep(0.02)
        killed = not mark.exists()  # the worker died before write `kill_at`; the agent started another
        os.kill(pid, signal.SIGTERM)
        status = zygote.reap(pid)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out.read_text()

        again = tmp_path / f"again-{kill_at}.out"  # the next start, undisturbed
        pid = zygote.run(tuesday.isoformat(), again, "--home", str(home), "start", "--no-tray")
        assert "running" in wait_for_text(again, ("running",), 30, pid), again.read_text()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and query(
            db, "SELECT COUNT(*) FROM prompts WHERE due > '2030-01-08'"
        )[0][0] < 2:
            time.sleep(0.02)
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        assert zygote.reap(pid) == 0, again.read_text()

        assert query(db, "PRAGMA integrity_check") == [("ok",)]
        prompts = dict(query(db, "SELECT kind, outcome FROM prompts"))
        assert prompts == {"checkin-desk": "missed", "drills": None, "checkin-car": None}, (kill_at, prompts)
        assert query(db, "SELECT COUNT(*) FROM checkins WHERE posture = 'missed'") == [(1,)], (
            f"killed before write {kill_at}: the miss was recorded twice or not at all"
        )
        assert sorted(f.name for f in Paths.resolve(home).backup_dir.glob("daily-*.db")) == [
            "daily-2030-01-07.db", "daily-2030-01-08.db"
        ]
        if not killed:
            break
        points += 1
    assert points >= 4, f"only {points} write points in the start-up pass: the hook did not work"
    print(f"\nkilled before each of {points} writes of the start-up pass, then restarted: all consistent")
