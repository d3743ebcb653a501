"""An answer the app said it saved survives the writer being killed (SIGKILL) at any moment.

Each round forks a writer from this (already imported) process, so hundreds of rounds stay fast:
the writer opens the store, records check-ins through the Journal and reports each id on a pipe
only after its transaction has committed; the test kills it after a random delay, then checks the
file and that every reported id is there.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from posture_agent.clock import SystemClock
from posture_agent.config import Settings
from posture_agent.journal import Journal
from posture_agent.paths import Paths
from posture_agent.store.db import open_store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

ROUNDS = int(os.environ.get("POSTURE_AGENT_KILL_ROUNDS", "300"))
CREATION_ROUNDS = 30


def writer(paths: Paths, fd: int) -> None:
    """Runs in the forked child until killed."""
    store = open_store(paths.db_file, paths.backup_dir)
    journal = Journal(store, Settings(timezone="Europe/Berlin"), SystemClock())
    postures = ("upright", "slouched", "standing", "skipped")
    n = 0
    while True:
        saved = journal.record_checkin(postures[n % 4], context=("desk", "car", "sofa")[n % 3])
        os.write(fd, (saved.id + "\n").encode())  # acknowledged only after the commit returned
        n += 1


def kill_rounds(
    paths: Paths, rounds: int, seed: int, max_delay: float, after_first: bool = False
) -> tuple[set[str], int]:
    rng = random.Random(seed)
    acknowledged: set[str] = set()
    killed_mid_write = 0
    for _ in range(rounds):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 0
            try:
                os.close(read_end)
                writer(paths, write_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        if after_first and rng.random() < 0.5:  # half the rounds: in the middle of the writes
            first = os.read(read_end, 37)
            chunks_before = [first]
            time.sleep(rng.uniform(0.0, 0.03))
        else:  # the other half: any time from the start (opening, first write, later writes)
            chunks_before = []
            time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        chunks = chunks_before
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        lines = b"".join(chunks).decode().split("\n")
        acknowledged.update(line for line in lines[:-1] if line)  # the last piece may be partial
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            killed_mid_write += 1
        else:
            raise AssertionError(f"the writer stopped by itself (status {status}): see the log")
    return acknowledged, killed_mid_write


def stored_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in conn.execute("SELECT id FROM checkins")}
    finally:
        conn.close()


def test_sigkill_while_writing_loses_no_acknowledged_answer(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path / "home")
    paths.make_dirs()
    open_store(paths.db_file, paths.backup_dir).close()  # created here; the kills hit the writes
    sys.stdout.flush()
    acknowledged, kills = kill_rounds(paths, ROUNDS, seed=8, max_delay=0.15, after_first=True)
    assert kills == ROUNDS
    assert len(acknowledged) > ROUNDS  # most rounds got several answers in before the kill
    stored = stored_ids(paths.db_file)
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged answers lost"
    # the database still opens normally, passes its check and takes new answers
    store = open_store(paths.db_file, paths.backup_dir)
    Journal(store, Settings(timezone="Europe/Berlin"), SystemClock()).record_checkin("upright")
    store.close()


def test_sigkill_while_creating_the_database_leaves_it_usable(tmp_path: Path) -> None:
    """Kills during the very first start (file creation, schema migration): the next start must
    still open the database and save answers."""
    rng = random.Random(4)
    for n in range(CREATION_ROUNDS):
        paths = Paths.resolve(tmp_path / f"home{n}")
        paths.make_dirs()
        kill_rounds(paths, 1, seed=n, max_delay=rng.uniform(0.0, 0.5))
        store = open_store(paths.db_file, paths.backup_dir)
        saved = Journal(store, Settings(timezone="Europe/Berlin"), SystemClock()).record_checkin("upright")
        store.close()
        assert saved.id in stored_ids(paths.db_file)
