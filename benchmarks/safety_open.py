"""What the safety checks cost a command: `PRAGMA quick_check` at every open, and a daily backup.

For databases holding 1, 5 and 20 years of a heavy user's check-ins (16 a day), times opening the
store with and without the quick check (the baseline, measured in the same run), a whole in-process
`posture-agent checkin` (what a user waits for), and one backup through SQLite's backup API.

    python benchmarks/safety_open.py
"""

from __future__ import annotations

import io
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from posture_agent.cli import main
from posture_agent.paths import Paths
from posture_agent.store.backup import backup_now
from posture_agent.store.db import open_store

PER_DAY = 16
REPEAT = 15


def fill(db: Path, years: int) -> int:
    conn = sqlite3.connect(db)
    start = datetime(2026, 1, 1) - timedelta(days=365 * years)
    rows = []
    for n in range(365 * years * PER_DAY):
        at = (start + timedelta(minutes=90 * n)).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append((str(uuid.uuid4()), at, at, "bench:1", "cli", ("desk", "car", "sofa")[n % 3],
                     ("upright", "slouched", "standing")[n % 3], 0))
    conn.executemany(
        "INSERT INTO checkins(id, created_at, at, device, source, context, posture, prompted) "
        "VALUES (?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return len(rows)


def median_ms(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main_bench() -> None:
    print(f"{'history':>9} {'rows':>8} {'MB':>6} {'open':>8} {'open+check':>11} {'check/open':>10} {'default':>8} "
          f"{'checkin cmd':>12} {'check/cmd':>9} {'backup':>8}")
    for years in (1, 5, 20):
        with tempfile.TemporaryDirectory() as tmp:
            paths = Paths.resolve(Path(tmp) / "home")
            paths.make_dirs()
            open_store(paths.db_file, paths.backup_dir).close()
            rows = fill(paths.db_file, years)
            size = paths.db_file.stat().st_size / 1e6
            plain = median_ms(lambda p=paths: open_store(p.db_file, p.backup_dir, check=False).close())
            checked = median_ms(lambda p=paths: open_store(p.db_file, p.backup_dir, check=True).close())
            auto = median_ms(lambda p=paths: open_store(p.db_file, p.backup_dir).close())
            cmd = median_ms(lambda p=paths: main(["--home", str(p.data_dir.parent), "checkin", "upright"],
                                                 out=io.StringIO()))
            backup = median_ms(lambda p=paths: backup_now(p, datetime.now(UTC)))
            extra = checked - plain
            print(f"{years:>7} y {rows:>8} {size:>6.1f} {plain:>6.2f}ms {checked:>9.2f}ms {checked / plain:>9.2f}x "
                  f"{auto:>6.2f}ms "
                  f"{cmd:>10.2f}ms {extra / cmd:>8.1%} {backup:>6.1f}ms")


if __name__ == "__main__":
    main_bench()
