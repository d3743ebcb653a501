"""The resident agent, whose database work runs in its worker process, beside Workrave on one virtual
desktop, round after round in the same run.

    .venv/bin/python benchmarks/worker_bench.py [--rounds 3] [--answers 20] [--tray xfce4-panel]

Each round: Workrave's everyday start (docked, idle 2 s): its PSS; then the real `posture-agent
start` (tray and all): its PSS once the icon is docked and the worker has left (idle); then a
simulated day through the control socket, as the windows and the notification presses send
answers (`checkin`, `circuit`, then the status lines the menu reads): each answer's time from the
request to its reply, which comes once the row is committed (press -> stored row), the first one
with the worker cold (it had left: its start is in that time), the others warm; the worker's CPU
seconds per answer; with `--tray xfce4-panel`, "Today's drills" opened from the tray's D-Bus menu
and left open, and the "Weekly report" made by its child; and the resident's PSS again once the
worker has left after that day, the drills window still open. Needs what tray_bench.py needs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peers import settle_first_run  # noqa: E402
from benchmarks.tray_bench import (  # noqa: E402
    cpu_and_switches,
    desktop_with_workrave,
    docked_children,
    memory,
    real_config,
    wait_until,
)
from posture_agent.agent.control import send  # noqa: E402
from posture_agent.agent.worker_client import IDLE_SECONDS  # noqa: E402
from tests.desktop import Desktop, stop_process  # noqa: E402
from tests.sni_host import Panel, find  # noqa: E402

WORKER_FLAG = "--worker-process"


def worker_of(pid: int) -> int | None:
    """The resident's worker process, if one runs."""
    found = children(pid, WORKER_FLAG)
    return found[0] if found else None


def count_checkins(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM checkins").fetchone()[0])
    finally:
        conn.close()


def docked(d: Desktop, panel: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    base = docked_children(d, panel)
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    if wait_until(lambda: docked_children(d, panel) > base, timeout=30) is None:
        stop_process(proc)
        raise SystemExit(f"{cmd[0]} did not dock within 30 s")
    return proc


def without_worker(pid: int) -> float:
    """Wait until the worker has left (idle); the seconds waited."""
    took = wait_until(lambda: worker_of(pid) is None, timeout=3 * IDLE_SECONDS + 30, interval=0.5)
    if took is None:
        raise SystemExit("the worker did not leave when idle")
    time.sleep(1)
    return took


def a_day(pid: int, runtime: Path, db: Path, answers: int) -> dict[str, float]:
    """Answers as the windows send them; press -> stored row, cold and warm; the worker's CPU per answer.
    A window's answer is replied to once its row is committed, so the time to the reply is the time
    to the stored row (the rows are counted afterwards: reading the file before the first answer
    would itself be news to the agent, which would start its worker ahead)."""
    if worker_of(pid) is not None:
        raise SystemExit("the worker is running before the day: the first answer would not be cold")
    before = count_checkins(db)
    stored: list[float] = []
    worker_cpu = 0.0
    for i in range(answers):
        start = time.perf_counter()
        reply = send(runtime, {"cmd": "checkin", "posture": ("upright", "slouched", "standing")[i % 3],
                               "context": "desk"}, timeout=30)
        stored.append(time.perf_counter() - start)
        if not reply.get("ok") or reply.get("saving"):
            raise SystemExit(f"an answer was not stored at once: {reply}")
        worker = worker_of(pid)
        if i == 0 and worker is not None:
            worker_cpu -= cpu_and_switches(worker)[0]  # from the first warm answer on
        send(runtime, {"cmd": "status"}, timeout=30)  # the menu's status lines after each answer
    send(runtime, {"cmd": "circuit", "rounds": 2}, timeout=30)
    worker = worker_of(pid)
    if worker is not None:
        worker_cpu += cpu_and_switches(worker)[0]
    if count_checkins(db) != before + answers:
        raise SystemExit("not every answer was stored once")
    warm = stored[1:]
    return {"cold_ms": stored[0] * 1000, "warm_median_ms": statistics.median(warm) * 1000 if warm else 0.0,
            "worker_cpu_ms_per_answer": worker_cpu * 1000 / max(1, answers - 1)}


def children(pid: int, flag: str) -> list[int]:
    """The resident's child processes whose command line holds `flag`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == pid and flag.encode() in cmdline:
            found.append(int(entry.name))
    return found


def from_the_menu(d: Desktop, pid: int, home: Path) -> None:
    """The rest of the day through the tray's menu, as the panel clicks it (com.canonical.dbusmenu's
    "clicked" event on the resident's D-Bus menu): "Today's drills" opened and left open, then the
    "Weekly report" (its page written by a child `posture-agent report`, which is waited for)."""
    panel = Panel(f"org.kde.StatusNotifierItem-{pid}-1", bus=d.env["DBUS_SESSION_BUS_ADDRESS"])
    try:
        _revision, tree = panel.layout()
        panel.click(int(find(tree, "Today's drills")["id"]))
        if wait_until(lambda: d.window("^Today's drills") is not None, timeout=30, interval=0.2) is None:
            raise SystemExit("the drills window did not open from the menu")
        panel.click(int(find(tree, "Weekly report")["id"]))
    finally:
        panel.close()
    pages = home / "data" / "reports"
    made = wait_until(lambda: any(pages.glob("report-*.html")) and not children(pid, "report"), timeout=120,
                      interval=0.2)
    if made is None:
        raise SystemExit("the weekly report's page was not written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--tray", choices=("trayer", "xfce4-panel"), default="xfce4-panel")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pa-worker-bench-"))
    d = desktop_with_workrave(root, args.tray)
    try:
        panel = d.panel()
        assert panel is not None
        # BROWSER: the page is written and "opened" by a command that returns at once (no browser here)
        env = dict(d.env, PYTHONPATH=str(ROOT), HOME=str(root / "home"), BROWSER="true")
        (root / "home").mkdir()
        settle_first_run(["workrave"], env)
        print(f"{'round':<6}{'Workrave':>10}{'idle':>8}{'÷WR':>6}{'after day':>11}{'÷WR':>6}"
              f"{'cold ms':>9}{'warm ms':>9}{'worker CPU ms/answer':>22}")
        for n in range(1, args.rounds + 1):
            wr = docked(d, panel, ["workrave"], env)
            time.sleep(2)
            wr_pss = memory(wr.pid)[1]
            stop_process(wr)
            home = root / f"home-{n}"
            real_config(home, None)
            ours = docked(d, panel, [sys.executable, "-m", "posture_agent", "--home", str(home), "start"], env)
            try:
                db = home / "data" / "posture-agent.db"
                wait_until(db.exists, timeout=30, interval=0.05)  # made once the icon has docked
                wait_until(lambda pid=ours.pid: worker_of(pid) is not None, timeout=30, interval=0.05)
                count_checkins(db)  # read once before the idle wait, not between it and the day
                without_worker(ours.pid)
                idle = memory(ours.pid)[1]
                day = a_day(ours.pid, home / "data" / "run", home / "data" / "posture-agent.db", args.answers)
                if args.tray == "xfce4-panel":  # the D-Bus menu; pystray's gtk menu on trayer is not clicked here
                    from_the_menu(d, ours.pid, home)
                without_worker(ours.pid)
                after = memory(ours.pid)[1]
            finally:
                stop_process(ours)
            print(f"{n:<6}{wr_pss:>10.1f}{idle:>8.1f}{idle / wr_pss:>6.2f}{after:>11.1f}{after / wr_pss:>6.2f}"
                  f"{day['cold_ms']:>9.0f}{day['warm_median_ms']:>9.1f}{day['worker_cpu_ms_per_answer']:>22.1f}",
                  flush=True)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    os._exit(0)  # the desktop's helper threads are gone with it


if __name__ == "__main__":
    main()
