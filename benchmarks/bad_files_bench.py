"""What a strange file costs before it is refused, and how often two first starts collide.

1. Wall time and peak memory (max RSS) of `posture-agent config check` on a 47 MB config file, a
   FIFO and a symlink to /dev/zero as config.toml (each used to take 35 s and 1.3 GB, or hang),
   against a normal config as the baseline.
2. Four processes switching one new, empty file to WAL at the same moment, many times: with SQLite's
   own busy timeout alone, and through `store.migrate._switch_to_wal` (which tries again).

    python benchmarks/bad_files_bench.py [rounds]
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from posture_agent.store import migrate as store_migrate
from posture_agent.store.sqlite_file import BUSY_TIMEOUT_MS

TIMEOUT_S = 30
PROCESSES = 4
"""First starts racing on one new file in each round."""


def run_config_check(home: Path) -> tuple[float, float, int]:
    """Seconds, peak MB and exit status of one `config check` process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture_agent", "--home", str(home), "config", "check"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def write_huge(path: Path) -> None:
    """47 MB of one comment, written in pieces (a child forked from a big parent shows its size)."""
    with path.open("wb") as f:
        f.write(b"# ")
        for _ in range(47):
            f.write(b"x" * 2**20)
        f.write(b"\n")


def config_costs(root: Path) -> None:
    cases: dict[str, Any] = {
        "normal": lambda p: p.write_text('[general]\ntimezone = "UTC"\n', encoding="utf-8"),
        "47 MB": write_huge,
        "FIFO": lambda p: os.mkfifo(p),
        "-> /dev/zero": lambda p: p.symlink_to("/dev/zero"),
    }
    print(f"{'config.toml':<14}{'seconds':>9}{'peak MB':>9}{'exit':>6}")
    for name, make in cases.items():
        home = root / name.replace(" ", "").replace("/", "_")
        home.mkdir()
        make(home / "config.toml")
        seconds, peak, code = run_config_check(home)
        print(f"{name:<14}{seconds:>9.2f}{peak:>9.0f}{code:>6}")


def _switch(db: str, retrying: bool, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        if retrying:
            store_migrate._switch_to_wal(Path(db))
        else:
            conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            finally:
                conn.close()
        results.put(True)
    except sqlite3.OperationalError:
        results.put(False)


def wal_collisions(root: Path, rounds: int) -> None:
    ctx = multiprocessing.get_context("fork")
    for retrying in (False, True):
        failed = 0
        for n in range(rounds):
            db = str(root / f"wal-{int(retrying)}-{n}.db")
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
            barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
            procs = [ctx.Process(target=_switch, args=(db, retrying, barrier, results)) for _ in range(PROCESSES)]
            for p in procs:
                p.start()
            outcomes = [results.get(timeout=TIMEOUT_S) for _ in procs]
            for p in procs:
                p.join()
            failed += not all(outcomes)
        how = "_switch_to_wal (tries again)" if retrying else "PRAGMA journal_mode=WAL alone"
        print(f"{how:<32} rounds with a 'database is locked': {failed} of {rounds}")


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        config_costs(Path(tmp))
        wal_collisions(Path(tmp), rounds)
