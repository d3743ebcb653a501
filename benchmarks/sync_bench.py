"""How long sharing the history through a folder takes, beside a plain `export --format json` of
the same rows in the same run.

- ten years: the work computer writes its whole synthetic history into the folder (`sync setup`),
  then an empty home merges all of it (`sync setup` on the sofa laptop);
- one day: a day's new records written (`sync now` at work) and merged (`sync now` on the sofa),
  beside the export of a home holding that day alone;
- the agent's idle minute: a round with nothing new, in-process (what the resident pays each minute).

Whole processes, as a user waits for them; best of `--repeat`, wall and CPU seconds.

    python benchmarks/sync_bench.py [--years 10] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.report_bench import CPU, best_time, cli  # noqa: E402
from benchmarks.synthetic import ZONE, write  # noqa: E402

SYNTHETIC_ID = "000000000000"
"""The device id in the synthetic rows' `device` column: the work home takes it, so they are its own."""


def claim_synthetic_rows(home: Path) -> None:
    conn = sqlite3.connect(home / "data" / "posture-agent.db")
    try:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (SYNTHETIC_ID,))
        conn.commit()
    finally:
        conn.close()


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in DIR and leave it (default: a temporary folder)")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="sync-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    last = datetime.now(ZONE).date() - timedelta(days=1)
    first = last - timedelta(days=round(args.years * 365.25) - 1)
    held_back = [last - timedelta(days=args.repeat - 1 - i) for i in range(args.repeat)]
    until = datetime.now(UTC)
    try:
        work, folder = base / "work", base / "folder"
        folder.mkdir()
        counts = write(work, first, held_back[0] - timedelta(days=1), until=until)
        claim_synthetic_rows(work)
        rows = sum(counts.values())
        print(f"history: {first} to {held_back[0] - timedelta(days=1)}, {rows} records ({counts})")

        results: dict[str, float] = {}
        results["export history"] = best_time(cli(work, "export", "--format", "json"), args.repeat, "export history")
        results["write history"] = best_time(cli(work, "sync", "setup", str(folder)), 1, "write history")
        files, size = folder_size(folder)
        print(f"folder after the first write: {files} files, {size / 1e6:.1f} MB")

        empty = base / "empty"
        write(empty, last, last, until=datetime(2000, 1, 1, tzinfo=UTC))  # a home with no records

        def merge_into_empty() -> Callable[[], object]:
            def run() -> object:
                sofa = base / "sofa"
                shutil.rmtree(sofa, ignore_errors=True)
                shutil.copytree(empty, sofa)
                return cli(sofa, "sync", "setup", str(folder))()
            return run

        results["merge history"] = best_time(merge_into_empty(), args.repeat, "merge history")
        sofa = base / "sofa"

        day_export, day_write, day_merge = [], [], []
        for day in held_back:
            write(work, day, day, until=until)
            alone = base / f"day-{day}"
            write(alone, day, day, until=until)
            for name, fn, bucket in (
                (f"export {day}", cli(alone, "export", "--format", "json"), day_export),
                (f"write {day}", cli(work, "sync", "now"), day_write),
                (f"merge {day}", cli(sofa, "sync", "now"), day_merge),
            ):
                bucket.append((best_time(fn, 1, name), CPU[name]))
        results["export 1 day"] = min(t for t, _ in day_export)
        results["write 1 day"] = min(t for t, _ in day_write)
        results["merge 1 day"] = min(t for t, _ in day_merge)
        CPU["export 1 day"] = min(c for _, c in day_export)
        CPU["write 1 day"] = min(c for _, c in day_write)
        CPU["merge 1 day"] = min(c for _, c in day_merge)

        from posture_agent.clock import SystemClock
        from posture_agent.paths import Paths
        from posture_agent.store.db import open_store
        from posture_agent.sync.engine import sync_round

        store = open_store(Paths.resolve(sofa).db_file)
        idle = []
        for _ in range(max(5, args.repeat)):
            began = time.perf_counter()
            result = sync_round(store, SystemClock(), "sofa")
            idle.append(time.perf_counter() - began)
            assert result.merged == 0 and result.written == 0, result
        store.close()
        files, size = folder_size(folder)

        print(f"{'measure':<16}{'wall s':>9}{'cpu s':>9}")
        for name, took in results.items():
            print(f"{name:<16}{took:>9.3f}{CPU.get(name, float('nan')):>9.3f}")
        ratio = results["merge history"] / results["export history"]
        print(f"ratios: merge history / export history = {ratio:.2f} (wall), "
              f"{CPU['merge history'] / CPU['export history']:.2f} (cpu); "
              f"write history / export history = {results['write history'] / results['export history']:.2f} (wall), "
              f"{CPU['write history'] / CPU['export history']:.2f} (cpu)")
        print(f"ratios: merge 1 day / export 1 day = {results['merge 1 day'] / results['export 1 day']:.2f} (wall), "
              f"{CPU['merge 1 day'] / CPU['export 1 day']:.2f} (cpu); "
              f"write 1 day / export 1 day = {results['write 1 day'] / results['export 1 day']:.2f} (wall), "
              f"{CPU['write 1 day'] / CPU['export 1 day']:.2f} (cpu)")
        print(f"the agent's idle minute (a round with nothing new, in-process, {files} files in the folder): "
              f"best {min(idle) * 1000:.1f} ms, worst {max(idle) * 1000:.1f} ms")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
