"""`scripts/run.sh drills` when nothing changed since the last install, beside the installed
`.venv/bin/posture-agent drills`, measured in the same run. Target: within 1.5x (run.sh skips pip
when pyproject.toml and bootstrap.sh are those of the last install).

    .venv/bin/python benchmarks/run_sh_bench.py [--runs 15]

Run `scripts/run.sh --version` once first (the install). HOME is a temporary folder and
POSTURE_AGENT_NO_LINK is set: the measurement links nothing into your ~/.local/bin.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _process import compare

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, POSTURE_AGENT_HOME=home, HOME=home, POSTURE_AGENT_NO_LINK="1")
        subject = [str(ROOT / "scripts" / "run.sh"), "drills"]
        baseline = [str(ROOT / ".venv" / "bin" / "posture-agent"), "drills"]
        ours, base = compare(subject, baseline, args.runs, env)
    print(f"{'command (median of ' + str(args.runs) + ')':<40}{'wall s':>9}{'cpu s':>9}")
    print(f"{'scripts/run.sh drills':<40}{ours.wall:>9.3f}{ours.cpu:>9.3f}")
    print(f"{'.venv/bin/posture-agent drills':<40}{base.wall:>9.3f}{base.cpu:>9.3f}")
    ratio = ours.wall / base.wall
    print(f"ratio: wall {ratio:.2f}x, cpu {ours.cpu / base.cpu:.2f}x (target <= 1.50x)")
    sys.exit(0 if ratio <= 1.5 else 1)


if __name__ == "__main__":
    main()
