"""The resident agent measured as a process that runs all day, beside Workrave started the same way.

Both run under the same virtual desktop (Xvfb, private session bus, dunst, trayer; tests/desktop.py)
with HOME and the XDG folders in a temporary folder; Workrave has been started once before in that
HOME (its first run sets itself up and stays twice as large: benchmarks/_peers.py). After a
settling time, each is measured over an idle window: RSS and PSS (/proc/PID/smaps_rollup), CPU
seconds (utime+stime), and context switches (voluntary + involuntary, summed over
/proc/PID/task/*/status: every wake-up of every thread), all summed over the process and its
children. Then one prompt, due just after the idle window, gives the prompt latency (shown time
minus due time, from the prompts table).

Run from the repository root:  .venv/bin/python benchmarks/agent_bench.py [--idle SECONDS]
Targets: memory <= Workrave's, idle CPU <= Workrave's, no more than ~1 wake-up per idle minute
from the agent's own timers, a prompt within 1 s of its time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peers import settle_first_run  # noqa: E402
from tests.desktop import Desktop, stop_process  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    rss_kb: int
    pss_kb: int
    cpu_s: float
    switches: int
    threads: int


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                children = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                todo.extend(int(c) for c in children)
        except OSError:
            continue
    return out


def sample(pid: int) -> Sample:
    rss = pss = switches = threads = 0
    cpu = 0.0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key == "Rss":
                    rss += int(rest.split()[0])
                elif key == "Pss":
                    pss += int(rest.split()[0])
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for task in os.listdir(f"/proc/{p}/task"):
                threads += 1
                for line in Path(f"/proc/{p}/task/{task}/status").read_text().splitlines():
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except OSError:
            continue
    return Sample(rss, pss, cpu, switches, threads)


def idle_figures(pid: int, seconds: float) -> dict[str, float]:
    start = sample(pid)
    time.sleep(seconds)
    end = sample(pid)
    minutes = seconds / 60
    return {
        "rss_mb": end.rss_kb / 1024,
        "pss_mb": end.pss_kb / 1024,
        "cpu_s_per_min": (end.cpu_s - start.cpu_s) / minutes,
        "switches_per_min": (end.switches - start.switches) / minutes,
        "threads": end.threads,
    }


def private_env(desktop: Desktop, folder: Path) -> dict[str, str]:
    env = dict(desktop.env)
    for sub in ("home", "config", "data", "cache", "state"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(folder / "home"), XDG_CONFIG_HOME=str(folder / "config"), XDG_DATA_HOME=str(folder / "data"),
        XDG_CACHE_HOME=str(folder / "cache"), XDG_STATE_HOME=str(folder / "state"), TZ="Europe/Berlin",
    )
    return env


def agent_cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posture_agent", "--home", str(home), *args],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )


def prepare_agent(home: Path, env: dict[str, str], due_in: float) -> datetime:
    """A config with no check-in windows (the measurement is of an idle agent) and one run whose
    soreness prompt is due `due_in` seconds from now, for the latency figure."""
    home.mkdir(parents=True, exist_ok=True)
    drills = (datetime.now(UTC) + timedelta(hours=13)).strftime("%H:%M")
    (home / "config.toml").write_text(
        '[general]\ntimezone = "Europe/Berlin"\n[desk]\ndays = []\n[sofa]\ndays = []\n[car]\ndays = []\n'
        f'[circuit]\ndays = []\n[drills]\ntime = "{drills}"\n',
        encoding="utf-8",
    )
    due = datetime.now(UTC) + timedelta(seconds=due_in)
    start = due - timedelta(hours=2, minutes=30)
    agent_cli(home, env, "run", "add", "--distance-km", "5", "--duration", "30m", "--at", start.isoformat())
    return due


def prompt_latency(home: Path) -> float | None:
    conn = sqlite3.connect(home / "data" / "posture-agent.db")
    try:
        row = conn.execute("SELECT due, shown_at FROM prompts WHERE kind = 'soreness'").fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return (datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])).total_seconds()



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle window in seconds (default 60)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after start before measuring")
    args = parser.parse_args()
    if shutil.which("workrave") is None:
        print("workrave is not installed (apt install workrave): no peer to compare with", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    desktop = Desktop(root / "desktop")
    try:
        desktop.start()
    except BaseException as exc:  # pytest.skip is a BaseException: report it plainly
        print(f"virtual desktop unavailable: {exc}", file=sys.stderr)
        return 2
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env_w = private_env(desktop, root / "workrave")
        settle_first_run(["workrave"], env_w)  # measure the everyday start, not the first-run setup
        workrave = subprocess.Popen(["workrave"], env=env_w, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(workrave)
        home = root / "agent"
        env_a = private_env(desktop, root / "agent-xdg")
        due = prepare_agent(home, env_a, due_in=args.settle + args.idle + 6)
        t0 = time.monotonic()
        agent = subprocess.Popen(
            [sys.executable, "-m", "posture_agent", "--home", str(home), "start", "--no-tray"],
            env=env_a, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        procs.append(agent)
        assert agent.stdout is not None
        agent.stdout.readline()
        started = time.monotonic() - t0
        time.sleep(args.settle)
        # measured one after the other over the same kind of window, each while the other idles too
        figures = {"posture-agent": idle_figures(agent.pid, args.idle)}
        wait = (due - datetime.now(UTC)).total_seconds() + 2
        if wait > 0:
            time.sleep(wait)
        latency = prompt_latency(home)
        figures["workrave"] = idle_figures(workrave.pid, args.idle)
        alive = {"posture-agent": agent.poll() is None, "workrave": workrave.poll() is None}
    finally:
        for proc in procs:
            stop_process(proc)
        desktop.stop()
        shutil.rmtree(root, ignore_errors=True)

    a, w = figures["posture-agent"], figures["workrave"]
    print(f"idle window {args.idle:.0f} s after {args.settle:.0f} s settling; agent up in {started:.2f} s")
    print(f"{'figure':<26}{'posture-agent':>15}{'workrave':>12}{'ratio':>8}")
    for key, label in (
        ("rss_mb", "RSS (MB)"), ("pss_mb", "PSS (MB)"), ("cpu_s_per_min", "CPU s / idle min"),
        ("switches_per_min", "ctx switches / idle min"), ("threads", "threads"),
    ):
        ratio = f"{a[key] / w[key]:.2f}" if w[key] else "-"
        print(f"{label:<26}{a[key]:>15.2f}{w[key]:>12.2f}{ratio:>8}")
    shown = "not shown" if latency is None else f"{latency:.3f} s late"
    print(f"{'prompt latency':<26}{shown:>15}{'n/a':>12}")
    print(f"processes alive at the end: {alive}")
    ok = (
        a["rss_mb"] <= w["rss_mb"] and a["cpu_s_per_min"] <= w["cpu_s_per_min"]
        and latency is not None and 0 <= latency <= 1.0 and all(alive.values())
    )
    print("targets met" if ok else "TARGETS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
