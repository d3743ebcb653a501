"""Import speed: the 20 real activity files as one whole `run import` process, beside
`python -c "import sqlalchemy"` measured in the same run; and a rescan of an import folder holding
1,000 already-imported files, beside a bare directory listing of that folder.

Targets: all 20 files in under 5 s; the rescan in under 1 s.

Usage: python benchmarks/import_bench.py [--repeat N] [--data DIR]
(DIR defaults to $POSTURE_AGENT_REAL_DATA, else ../shared/real-data/activities beside the checkout.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXTS = (".fit", ".gpx", ".tcx", ".gz")


def real_data(arg: str | None) -> Path:
    for candidate in (arg, os.environ.get("POSTURE_AGENT_REAL_DATA"), REPO.parent / "shared/real-data/activities"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("real activity files not found: pass --data DIR or set POSTURE_AGENT_REAL_DATA")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def bench_import(files: list[Path], repeat: int, work: Path) -> tuple[float, float]:
    env = {**os.environ, "TZ": "Europe/Berlin"}
    env.pop("POSTURE_AGENT_HOME", None)
    exe = shutil.which("posture-agent", path=str(Path(sys.executable).parent)) or "posture-agent"
    base, whole = [], []
    for i in range(repeat):
        base.append(timed([sys.executable, "-c", "import sqlalchemy"], env))
        home = work / f"home{i}"  # a fresh home each time: database created and migrated too
        whole.append(timed([exe, "--home", str(home), "run", "import", *map(str, files)], env))
    return statistics.median(base), statistics.median(whole)


def bench_rescan(work: Path, count: int, repeat: int) -> tuple[float, float, int]:
    from posture_agent.clock import SystemClock
    from posture_agent.config import Settings
    from posture_agent.importers.folder import list_files, scan_folder
    from posture_agent.journal import Journal
    from posture_agent.store.db import open_store

    sys.path.insert(0, str(REPO))
    from tests.importers.conftest import write_gpx

    folder = work / "sync"
    folder.mkdir()
    start = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    for i in range(50):  # 50 distinct small runs, copied to make `count` files
        write_gpx(folder / f"run{i:03d}.gpx", start + timedelta(days=i), 30, 6.0, points=10)
    sources = sorted(folder.iterdir())
    for i in range(len(sources), count):
        shutil.copyfile(sources[i % len(sources)], folder / f"copy{i:04d}.gpx")
    store = open_store(work / "bench.db")
    journal = Journal(store, Settings(timezone="Europe/Berlin"), SystemClock())
    first = scan_folder(journal, folder, settle_seconds=0)
    listing, rescan = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        list_files(folder)
        listing.append(time.perf_counter() - t)
        t = time.perf_counter()
        again = scan_folder(journal, folder, settle_seconds=0)
        rescan.append(time.perf_counter() - t)
        assert again == [], "a rescan of seen files must import nothing"
    store.close()
    return statistics.median(listing), statistics.median(rescan), len(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data")
    parser.add_argument("--files", type=int, default=1000, help="files in the rescanned folder")
    args = parser.parse_args()
    files = sorted(p for p in real_data(args.data).iterdir() if p.name.endswith(EXTS))
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        work = Path(tmp)
        base, whole = bench_import(files, args.repeat, work)
        listing, rescan, seen = bench_rescan(work, args.files, args.repeat)
    print(f"{'measurement':<52}{'median s':>10}{'ratio':>9}{'target':>10}")
    baseline = 'python -c "import sqlalchemy" (baseline)'
    print(f"{baseline:<52}{base:>10.3f}{1:>9.2f}{'':>10}")
    print(f"{f'run import, {len(files)} real files, whole process':<52}{whole:>10.3f}{whole / base:>9.2f}"
          f"{'< 5 s':>10}  {'OK' if whole < 5 else 'MISSED'}")
    print(f"{f'directory listing of {args.files} files (baseline)':<52}{listing:>10.3f}{1:>9.2f}{'':>10}")
    print(f"{f'rescan of {args.files} already-seen files':<52}{rescan:>10.3f}{rescan / listing:>9.2f}"
          f"{'< 1 s':>10}  {'OK' if rescan < 1 else 'MISSED'}")
    load = os.getloadavg()[0]
    print(f"(first scan of that folder read {seen} files; medians of {args.repeat} runs; load {load:.1f})")


if __name__ == "__main__":
    main()
