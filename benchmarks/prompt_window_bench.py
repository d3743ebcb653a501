"""Prompt due → check-in window mapped, the window's process start included, and what a window left
open costs: the resident app (tests/ui_harness.py: the real App and Agent, its clock moved by
the benchmark) on Xvfb + trayer + dunst, ten check-ins in a row, each closed by the agent at its
timeout. Then one window left open for `--idle` seconds: context switches of the resident
process and of the window's process over that spell.

Run from the repository root:  .venv/bin/python benchmarks/prompt_window_bench.py [--runs 10] [--idle 30]
Targets: due → mapped < 0.5 s (median); the resident makes no wake-up for an open window; the window
process wakes at most once a second (its countdown).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.desktop import Desktop, wait_for  # noqa: E402

PINNED = "2026-11-25T12:00:00+01:00"


def switches(pid: int) -> int:
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            total += sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pa-window-bench-"))
    d = Desktop(root).start()
    home = root / "home"
    home.mkdir()
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    events = root / "events.jsonl"
    env = dict(d.env, PYTHONPATH=str(ROOT), TZ="Europe/Berlin")
    proc = subprocess.Popen([sys.executable, "-m", "tests.ui_harness", "--home", str(home), "--events", str(events),
                             "--clock", PINNED, "--backend", "gtk"], stdin=subprocess.PIPE, text=True,
                            stdout=subprocess.DEVNULL, stderr=(root / "app.err").open("wb"), env=env, cwd=ROOT)

    def log() -> list[dict[str, Any]]:
        return [json.loads(line) for line in events.read_text().splitlines() if line.strip()] if events.exists() else []

    def send(line: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    try:
        assert wait_for(lambda: any(e["event"] == "tray_ready" for e in log()), timeout=30), "the app starts"
        latencies = []
        for _ in range(args.runs):
            seen = len(log())
            send("due")
            assert wait_for(lambda s=seen: any(e["event"] == "mapped" for e in log()[s:]), timeout=15)  # type: ignore[misc]
            new = log()[seen:]
            due = next(e for e in new if e["event"] == "due")
            mapped = next(e for e in new if e["event"] == "mapped")
            latencies.append(mapped["t"] - due["t"])
            seen = len(log())
            send("advance 121")  # the agent closes it at its timeout
            assert wait_for(lambda s=seen: any(e["event"] == "gone" for e in log()[s:]), timeout=15)  # type: ignore[misc]
        print(f"prompt due -> check-in window mapped (its process started): median "
              f"{statistics.median(latencies):.3f} s, min {min(latencies):.3f}, max {max(latencies):.3f} "
              f"({len(latencies)} runs)")
        seen = len(log())
        send("due")
        assert wait_for(lambda: any(e["event"] == "mapped" for e in log()[seen:]), timeout=15)
        time.sleep(2)
        (window,) = children(proc.pid)
        r0, w0 = switches(proc.pid), switches(window)
        time.sleep(args.idle)
        r1, w1 = switches(proc.pid), switches(window)
        minutes = args.idle / 60
        print(f"one window open for {args.idle:.0f} s: resident {(r1 - r0) / minutes:.1f} context switches per "
              f"minute, window process {(w1 - w0) / args.idle:.2f} per second")
    finally:
        if proc.poll() is None:
            send("quit")
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
