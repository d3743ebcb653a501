"""What another computer's big file costs, and what the agent's idle sync minute costs, beside a
baseline measured in the same run.

- memory: the peak RSS (ru_maxrss of the child) of a `sync now` that merges one 50 MB segment
  (about 200,000 check-ins) from another device, beside the same command merging a one-record
  segment: a segment is streamed (checked in one pass, merged in a second), never held whole, so
  the peak must stay under 150 MB (exit 1 otherwise);
- the idle minute: a round with nothing new, in-process, best and median of `--rounds`; with
  `--baseline-src DIR` (a checkout of another version, e.g. main) the same measurement runs there
  too, on a copy of the same home, alternately.

    python benchmarks/sync_memory_bench.py [--mb 50] [--rounds 40] [--baseline-src DIR]

A baseline checkout of main: `mkdir /tmp/main && git archive main | tar -x -C /tmp/main`.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._process import time_process  # noqa: E402
from benchmarks.synthetic import ZONE, write  # noqa: E402

PEER = "0123456789ab"
LIMIT_MB = 150
IDLE = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
from posture_agent.clock import SystemClock
from posture_agent.paths import Paths
from posture_agent.store.db import open_store
from posture_agent.sync.engine import sync_round
store = open_store(Paths.resolve(sys.argv[1]).db_file)
took = []
for _ in range(int(sys.argv[2])):
    began = time.perf_counter()
    result = sync_round(store, SystemClock(), "bench")
    took.append(time.perf_counter() - began)
    assert result.merged == 0 and result.written == 0, result
print(json.dumps(took))
"""


def peer_segment(folder: Path, megabytes: float, seq: int = 1) -> int:
    """A valid segment of another device of about `megabytes` MB, streamed to disk; its record count."""
    device = folder / "posture-agent" / PEER
    device.mkdir(parents=True, exist_ok=True)
    body = device / "body.tmp"
    digest = hashlib.sha256()
    count = 0
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with body.open("wb") as out:
        while count == 0 or out.tell() < megabytes * 1e6:
            at = (start + timedelta(minutes=count)).isoformat()
            row = {"id": str(uuid.uuid4()), "at": at, "context": "desk", "posture": "upright", "prompted": True,
                   "created_at": at, "device": f"peer:{PEER}", "source": "prompt"}
            line = json.dumps({"r": row, "t": "checkins"}, sort_keys=True).encode() + b"\n"
            digest.update(line)
            out.write(line)
            count += 1
    header = {"format": 1, "schema": "0004", "device_id": PEER, "seq": seq, "records": count,
              "sha256": digest.hexdigest()}
    target = device / f"seg-{seq:06d}.jsonl"
    with target.open("wb") as out, body.open("rb") as src:
        out.write(json.dumps(header).encode() + b"\n")
        shutil.copyfileobj(src, out, 2**20)
    body.unlink()
    return count


def cli(home: Path, *args: str, src: Path) -> list[str]:
    """A command of the checkout `src` (`python -m` would take the current folder's code first)."""
    code = f"import sys; sys.path.insert(0, {str(src)!r}); from posture_agent.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "--home", str(home), *args]


def env_for(src: Path) -> dict[str, str]:
    """Run `src`'s code (its folder left as it is: no bytecode written there)."""
    return dict(os.environ, PYTHONPATH=str(src), TZ="Europe/Berlin", PYTHONDONTWRITEBYTECODE="1")


def fresh_home(base: Path, name: str, src: Path) -> tuple[Path, Path]:
    home, folder = base / name, base / f"{name}-folder"
    folder.mkdir(parents=True)
    last = datetime.now(ZONE).date() - timedelta(days=1)
    write(home, last - timedelta(days=365), last, until=datetime.now(UTC))
    subprocess.run(cli(home, "sync", "setup", str(folder), src=src), env=env_for(src), check=True, capture_output=True)
    return home, folder


def idle(home: Path, rounds: int, src: Path) -> list[float]:
    out = subprocess.run([sys.executable, "-c", IDLE, str(home), str(rounds), str(src)], env=env_for(src), check=True,
                         capture_output=True, text=True).stdout
    return sorted(json.loads(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--baseline-src", type=Path, help="a checkout of the version to compare the idle round with")
    parser.add_argument("--idle-only", action="store_true", help="only the idle round")
    args = parser.parse_args(argv)
    here = HERE.parent
    base = Path(tempfile.mkdtemp(prefix="sync-memory-"))
    try:
        sources = {"this checkout": here}
        if args.baseline_src:
            sources["baseline"] = args.baseline_src.resolve()
        peaks = {(f"{args.mb:g} MB", "this checkout"): 0.0, ("one record", "this checkout"): 0.0}
        cases = itertools.product(() if args.idle_only else (("one record", 0.0), (f"{args.mb:g} MB", args.mb)),
                                  sources.items())
        for n, ((name, size), (version, src)) in enumerate(cases):
            home, folder = fresh_home(base, f"mem-{n}", src)
            records = peer_segment(folder, size)
            timing = time_process(cli(home, "sync", "now", src=src), env_for(src))
            peaks[name, version] = timing.peak_mb
            print(f"{version}: merge a segment of {name} ({records} records, "
                  f"{sum(p.stat().st_size for p in (folder / 'posture-agent' / PEER).iterdir()) / 1e6:.1f} MB): "
                  f"peak RSS {timing.peak_mb:.0f} MB, {timing.wall:.1f} s wall, {timing.cpu:.1f} s CPU")
        big = peaks[f"{args.mb:g} MB", "this checkout"]
        print(f"peak RSS: {big:.0f} MB against {peaks['one record', 'this checkout']:.0f} MB for a one-record "
              f"segment (limit {LIMIT_MB} MB)")

        homes = {name: fresh_home(base, f"idle-{i}", src)[0] for i, (name, src) in enumerate(sources.items())}
        runs: dict[str, list[float]] = {name: [] for name in sources}
        for _ in range(3):  # alternately, so a busy machine weighs on both alike
            for name, src in sources.items():
                runs[name] += idle(homes[name], args.rounds, src)
        for name, took in runs.items():
            took.sort()
            print(f"idle round ({name}): best {took[0] * 1000:.2f} ms, median {took[len(took) // 2] * 1000:.2f} ms")
        if args.baseline_src:
            a, b = runs["this checkout"], runs["baseline"]
            print(f"idle round, this checkout / baseline: best {a[0] / b[0]:.2f}, "
                  f"median {a[len(a) // 2] / b[len(b) // 2]:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if big < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
