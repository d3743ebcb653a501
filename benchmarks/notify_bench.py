"""A check-in asked and answered through its notification, and what notification buttons cost.

On a private session bus with a notification service of the tests' own that has action buttons
(tests/notification_service.py: it records when each Notify arrives, and sends `ActionInvoked`
itself, as a server does on a press), the real `Agent` on a real SQLite file, its clock pinned to
a check-in's due time:
- prompt due → notification on the bus: from `agent.tick()` (the scheduler's wake-up) to the
  service receiving Notify (the prompt is written to the database first);
- press → row: from `ActionInvoked` to the check-in row in the SQLite file (read by another
  connection, as any reader would see it).
Then, in a fresh process that already holds SQLAlchemy and APScheduler (what the resident agent
holds), the PSS added by jeepney with its connection open and one notification sent, its threads,
and its context switches over an idle spell.

Run from the repository root:  .venv/bin/python benchmarks/notify_bench.py [--runs 10] [--idle 20] [--worker]
(`--worker`: the agent as `start` builds it, its journal in the worker process.)
Targets (see docs/ui.md): due → bus < 0.2 s, press → row < 0.5 s (medians), +0 MB and no idle wake-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from posture_agent.agent.core import AgentCore  # noqa: E402
from posture_agent.agent.runtime import Agent  # noqa: E402
from posture_agent.agent.worker_client import WorkerChores, WorkerJournal, WorkerLink  # noqa: E402
from posture_agent.clock import FixedClock  # noqa: E402
from posture_agent.config import load_settings  # noqa: E402
from posture_agent.paths import Paths  # noqa: E402
from posture_agent.store.db import open_store  # noqa: E402
from tests.notification_service import NotificationService, private_bus  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")

FOOTPRINT = r"""
import json, os, sys, threading, time
import sqlalchemy, apscheduler.schedulers.background  # what the resident already holds

def pss():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
def switches():
    total = 0
    for task in os.listdir("/proc/self/task"):
        for line in open(f"/proc/self/task/{task}/status"):
            if "ctxt_switches" in line:
                total += int(line.split()[1])
    return total

before = pss()
from posture_agent.agent.freedesktop import FreedesktopNotifications
n = FreedesktopNotifications(lambda i, k: None, lambda i, r: None).open()
n.capabilities()
n.notify("Posture check", "Press your answer", [("upright", "Upright")], 60)
time.sleep(0.5)
after = pss()
threads = threading.active_count()
s0 = switches()
time.sleep(float(sys.argv[1]))
idle = switches() - s0
n.close()
print(json.dumps({"before": before, "after": after, "threads": threads, "idle_switches": idle}))
"""


def checkin_round_trips(runs: int, worker: bool = False) -> tuple[list[float], list[float]]:
    due_to_bus: list[float] = []
    press_to_row: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pa-notify-bench-") as tmp, private_bus() as address:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        service = NotificationService(address).start()
        home = Path(tmp)
        (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
        paths = Paths.resolve(home)
        paths.make_dirs()
        store = open_store(paths.db_file, paths.backup_dir)
        # Wednesday 25 Nov 2026, the first desk check-in (09:00, with the car one) onwards
        clock = FixedClock(datetime(2026, 11, 25, 8, 59, tzinfo=BERLIN))
        settings = load_settings(paths.config_file)
        agent: AgentCore = Agent(paths, settings, store, clock)
        if worker:  # as `start` builds it: the journal and the chores in the worker process
            link = WorkerLink(paths)
            agent = AgentCore(paths, WorkerJournal(link, settings, clock),
                              WorkerChores(link, lambda: agent.settings, clock), clock)
        notifier = agent.open_notifier()
        try:
            clock.at = datetime(2026, 11, 25, 9, 0, 1, tzinfo=BERLIN)
            agent.tick()  # the day's first prompts (drills, the 09:00 check-in): warm-up, not counted
            for n in range(runs + 1):
                checkins = [a for a in agent.status().open_prompts if a.prompt.kind == "checkin"]
                for active in checkins:
                    agent.skip(active)
                clock.at = datetime(2026, 11, 25, 9, 45, 1, tzinfo=BERLIN) + timedelta(minutes=45 * n)
                sent = len(service.notified_at)
                start = time.perf_counter()
                agent.tick()
                while len(service.notified_at) == sent:
                    time.sleep(0.001)
                due_to_bus.append(service.notified_at[-1] - start)
                nid = max(notifier._asked)
                rows_before = count_checkins(paths.db_file)
                start = time.perf_counter()
                service.invoke(nid, "upright")
                while count_checkins(paths.db_file) == rows_before:
                    time.sleep(0.002)
                press_to_row.append(time.perf_counter() - start)
        finally:
            notifier.close()
            agent.stop()
            store.close()
            service.stop()
    return due_to_bus[1:], press_to_row[1:]


def count_checkins(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("select count(*) from checkins where posture != 'missed'").fetchone()[0])
    finally:
        conn.close()


def footprint(idle: float) -> dict[str, float]:
    with private_bus() as address:
        service = NotificationService(address).start()
        try:
            done = subprocess.run([sys.executable, "-c", FOOTPRINT, str(idle)], capture_output=True, text=True,
                                  check=True, cwd=ROOT, env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address))
        finally:
            service.stop()
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--worker", action="store_true",
                        help="the agent as `start` builds it, its data in the worker process (warm)")
    args = parser.parse_args()
    bus, row = checkin_round_trips(args.runs, args.worker)
    print(f"prompt due -> notification on the bus: median {statistics.median(bus) * 1000:.1f} ms "
          f"(min {min(bus) * 1000:.1f}, max {max(bus) * 1000:.1f}; {len(bus)} runs)")
    print(f"press -> row in the database:         median {statistics.median(row) * 1000:.1f} ms "
          f"(min {min(row) * 1000:.1f}, max {max(row) * 1000:.1f}; {len(row)} runs)")
    fp = footprint(args.idle)
    print(f"jeepney, connection open, one notification sent: PSS {fp['before']:.1f} -> {fp['after']:.1f} MB "
          f"(+{fp['after'] - fp['before']:.1f}), {fp['threads']:.0f} threads in all, "
          f"{fp['idle_switches']:.0f} context switches in {args.idle:.0f} s idle")


if __name__ == "__main__":
    main()
