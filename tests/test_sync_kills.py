"""`kill -9` while a round writes this computer's segments and while it merges another's (50 rounds
each; `POSTURE_AGENT_SYNC_KILLS` changes the count). Each round is a forked process (the test's
imports already loaded, so a round costs milliseconds) killed after a random delay. Afterwards one
clean round: no temporary file is left or merged, every segment is whole, and the other computer's
database holds every record exactly once, the same as this one's."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import time
import uuid
from pathlib import Path

from posture_agent.cli import main
from posture_agent.sync import segments as sg
from posture_agent.sync.confined import TEMP_PREFIX, Folder
from tests import test_sync
from tests.test_sync import Home, assert_converged, exchange, full_round

pair = test_sync.pair
KILLS = int(os.environ.get("POSTURE_AGENT_SYNC_KILLS", "50"))


def add_checkins(home: Home, count: int, day: int) -> None:
    """`count` check-ins of this home, written straight into its database (as `checkin` would)."""
    conn = sqlite3.connect(home.db)
    device = f"{home.name}:{home.device_id()}"
    try:
        conn.executemany(
            "INSERT INTO checkins (id, at, context, posture, prompted, created_at, device, source) "
            "VALUES (?, ?, 'desk', 'upright', 0, ?, ?, 'cli')",
            [(str(uuid.uuid4()), f"2026-11-{day:02d} 0{i % 10}:{i % 60:02d}:00.000000",
              "2026-11-25 10:00:00.000000", device) for i in range(count)])
        conn.commit()
    finally:
        conn.close()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return info.st_size, info.st_mtime_ns


def killed_round(home: Home, rng: random.Random, longest: float, watch: Path | None = None,
                 commits: Path | None = None) -> bool:
    """`sync now` in a forked process, SIGKILLed after a random delay; with `watch`, a random moment
    after a temporary file appears in that folder (mid-write); with `commits` (a `-wal` file), a
    random moment after it changes (a file merged, the next one under way). True if it was killed."""
    before = _stamp(commits) if commits is not None else None
    pid = os.fork()
    if pid == 0:  # the child: one round, then out without running the parent's clean-ups
        try:
            main(["--home", str(home.home), "sync", "now"], clock=home.clock, out=io.StringIO())
        finally:
            os._exit(0)
    deadline = time.monotonic() + longest
    if watch is not None:
        while time.monotonic() < deadline and not any(p.name.startswith(TEMP_PREFIX) for p in watch.iterdir()):
            time.sleep(0.0005)
        time.sleep(rng.choice((0, 0, rng.uniform(0, 0.001))))
    elif commits is not None:
        while time.monotonic() < deadline and _stamp(commits) == before:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.003))
    else:
        time.sleep(rng.uniform(0, longest))
    killed = os.waitpid(pid, os.WNOHANG) == (0, 0)
    if killed:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return killed


def assert_whole(home: Home) -> None:
    """No temporary file left in this computer's folder; every segment there reads whole."""
    own = home.folder / sg.SUBFOLDER / home.device_id()
    assert not [p.name for p in own.iterdir() if p.name.startswith(TEMP_PREFIX)]
    with Folder.open(own) as folder:
        for name, _ in folder.entries():
            if sg.SEGMENT.match(name):
                sg.scan(folder, name)
    conn = sqlite3.connect(home.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_killed_while_writing(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    rng = random.Random(20)
    own = work.folder / sg.SUBFOLDER / work.device_id()
    killed = mid_write = 0
    for n in range(KILLS):
        add_checkins(work, 100, 1 + n % 20)
        killed += killed_round(work, rng, 1.0, watch=own if n % 2 else None)
        mid_write += any(p.name.startswith(TEMP_PREFIX) for p in own.iterdir())
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} rounds were killed before they ended"
    assert mid_write >= KILLS // 5, f"only {mid_write} of {KILLS} kills landed while a segment was written"
    work.sync()
    assert_whole(work)
    exchange(work, sofa)
    sofa.sync()
    assert len(work.rows()["checkins"]) == 1 + 100 * KILLS
    assert len(sofa.rows()["checkins"]) == 2 + 100 * KILLS  # and its own
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_killed_while_merging(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    rng = random.Random(21)
    killed = mid_merge = 0
    for n in range(KILLS):
        for _ in range(2):  # new files from work each round: always something to merge
            add_checkins(work, 300, 1 + n % 20)
            work.sync()
        exchange(work, sofa)
        before = len(sofa.rows()["checkins"])
        wal = sofa.db.with_name(sofa.db.name + "-wal")
        was_killed = killed_round(sofa, rng, 1.0, commits=wal) if n % 2 else killed_round(sofa, rng, 0.2)
        killed += was_killed
        mid_merge += was_killed and len(sofa.rows()["checkins"]) > before  # some files in, the rest cut off
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} rounds were killed before they ended"
    assert mid_merge >= KILLS // 10, f"only {mid_merge} of {KILLS} kills landed between merged files"
    sofa.sync()
    assert_whole(sofa)
    assert work.rows()["checkins"] <= sofa.rows()["checkins"]  # every record of work, each once (a set of rows)
    full_round(work, sofa)
    assert_converged(work, sofa)
    assert sofa.status()["unusable"] == [] and sofa.status()["rows"] == []


def test_a_segment_cut_by_a_kill_is_never_merged(pair: tuple[Home, Home]) -> None:
    """What a killed writer can leave is a temporary file: a peer given every cut of it merges nothing."""
    work, sofa = pair
    add_checkins(work, 50, 3)
    work.sync()
    whole = work.files()[-1].read_bytes()
    theirs = sofa.folder / sg.SUBFOLDER / work.device_id()
    theirs.mkdir(parents=True, exist_ok=True)
    for cut in range(0, len(whole), max(1, len(whole) // 40)):
        (theirs / f"{TEMP_PREFIX}{sg.segment_name(9)}.1.{cut:016x}.tmp").write_bytes(whole[:cut])
    before = sofa.rows()
    result = sofa.sync()
    assert result["unusable"] == [] and result["merged"] == 0 and sofa.rows() == before
