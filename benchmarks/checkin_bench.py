"""Latency of one `posture-agent checkin` as a whole process (what a hotkey or a script runs),
beside `python -c "import sqlalchemy"` measured in the same run. Target: within 1.5x.

    .venv/bin/python benchmarks/checkin_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _process import compare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("posture-agent")
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, POSTURE_AGENT_HOME=home)
        subject = [str(exe), "checkin", "upright"]
        baseline = [sys.executable, "-c", "import sqlalchemy"]
        ours, base = compare(subject, baseline, args.runs, env)
    print(f"{'command (median of ' + str(args.runs) + ')':<40}{'wall s':>9}{'cpu s':>9}")
    print(f"{'posture-agent checkin upright':<40}{ours.wall:>9.3f}{ours.cpu:>9.3f}")
    label = 'python -c "import sqlalchemy"'
    print(f"{label:<40}{base.wall:>9.3f}{base.cpu:>9.3f}")
    print(f"ratio: wall {ours.wall / base.wall:.2f}x, cpu {ours.cpu / base.cpu:.2f}x (target <= 1.50x)")


if __name__ == "__main__":
    main()
