"""Where the resident agent's memory goes: its parts imported step by step in one fresh process, as
`posture-agent start` imports them with the StatusNotifierItem tray, and the PSS each adds.

    .venv/bin/python benchmarks/resident_parts.py [--rounds 3]

Each round is a fresh interpreter. The order matters where parts share modules (SQLAlchemy and
APScheduler both bring asyncio, concurrent.futures and email): a part is charged what it adds
after the ones above it. The resident is complete at the "whole resident" line; the two lines after
it are what its worker process adds on top (SQLAlchemy, the store and the journal), which the
resident no longer holds. No display or bus is needed: nothing is shown, only imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = (
    ("Python", ()),
    ("tray: ui/tray.py, ui/sni.py, pystray's base, jeepney", ("posture_agent.ui.tray", "posture_agent.ui.sni")),
    ("APScheduler", ("apscheduler.schedulers.background",)),
    ("the resident: agent core, worker client, app, start",
     ("posture_agent.agent.core", "posture_agent.agent.worker_client", "posture_agent.app",
      "posture_agent.commands.agent")),
    ("+ SQLAlchemy Core (in the worker only)", ("sqlalchemy",)),
    ("+ store and journal (in the worker only)", ("posture_agent.store.db", "posture_agent.journal")),
)
CHILD = """
import importlib, json, os, sys
os.environ["PYSTRAY_BACKEND"] = "dummy"  # what ui/tray.py sets for the sni backend: pystray's base only
def pss():
    for line in open("/proc/self/smaps_rollup").read().splitlines()[1:]:
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
out = []
for name, modules in json.loads(sys.argv[1]):
    for module in modules:
        importlib.import_module(module)
    out.append(pss())
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(STEPS)], capture_output=True, text=True,
                              check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        rounds.append(json.loads(done.stdout))
    print(f"resident parts, PSS MB after each step ({args.rounds} rounds, each a fresh process)")
    print(f"{'step':56} {'total':>16} {'added':>16}")
    for i, (name, _modules) in enumerate(STEPS):
        totals = [r[i] for r in rounds]
        added = [r[i] - (r[i - 1] if i else 0) for r in rounds]
        print(f"{name:56} {min(totals):7.1f}–{max(totals):<7.1f} {min(added):+7.1f}–{max(added):<7.1f}")
    without = [r[-1] - (r[3] - r[2]) - (r[4] - r[3]) for r in rounds]
    print(f"{'all, less SQLAlchemy and the store':56} {min(without):7.1f}–{max(without):<7.1f}")


if __name__ == "__main__":
    main()
