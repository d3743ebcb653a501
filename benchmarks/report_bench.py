"""How long the reports take, on ten years of synthetic history against one week of it.

Whole processes (what a user waits for) are timed beside `python -c "import sqlalchemy"` measured
in the same run, since importing SQLAlchemy is most of a short command's cost; the report and the
trends are also timed in-process, where the history size is all that differs.

    python benchmarks/report_bench.py [--years 10] [--repeat 5] [--keep DIR] [--before CHECKOUT]

`--before CHECKOUT` also times `trends` and `report --html` of another checkout of the project (for
example `git worktree add ../before <commit>`) on the same history in the same run, run by this
interpreter with that checkout first on its path.

Targets (issue #3): report --json on 10 years within 1.5x of one week and under 0.5 s as a process.
Issue #21, as ratios to the sqlalchemy baseline of the same run: report --html on 10 years at most
3x (it took 3.0-4.3 s, 7-8x, before the page was drawn without matplotlib and each week read only
its own records), trends at most 1.3x (0.84-0.91 s before it counted each run's check-ins in SQL
instead of fetching 41,500 of them; 2.3-2.7x before it read the file read-only with plain sqlite3,
store/reads.py, instead of importing SQLAlchemy and opening the store), and the page under 2 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.synthetic import ZONE, write  # noqa: E402

PAGE_RATIO = 3.0
TRENDS_RATIO = 1.3
CPU: dict[str, float] = {}
"""Least CPU seconds (user + system) of the child processes per measurement: steadier than wall
time when other programs share the machine."""


def best_time(fn: Callable[[], object], repeat: int, name: str = "") -> float:
    """The fastest of `repeat` runs: on a shared machine the other runs measure the neighbours."""
    times, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if name:
        CPU[name] = min(cpu)
    return min(times)


BEFORE = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in str(f)]; "
    "sys.path.insert(0, sys.argv.pop(1)); from posture_agent.cli import main; sys.exit(main(sys.argv[1:]))"
)
"""Runs another checkout's command line: this checkout's editable-install finder is taken out first,
since it would otherwise answer `import posture_agent` before the path is searched."""


def process(*args: str, source: Path | None = None) -> Callable[[], object]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    if source is not None:
        args = ("-c", BEFORE, str(source), *(a for a in args if a not in ("-m", "posture_agent")))

    def run() -> object:
        return subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, env=env)

    return run


def cli(home: Path, *args: str, source: Path | None = None) -> Callable[[], object]:
    return process("-m", "posture_agent", "--home", str(home), *args, source=source)


def in_process(home: Path, what: str) -> Callable[[], object]:
    from posture_agent.config import load_settings
    from posture_agent.paths import Paths
    from posture_agent.report.trends import build_trends
    from posture_agent.report.weekly import build_report
    from posture_agent.store import queries, reads
    from posture_agent.store.db import open_store

    paths = Paths.resolve(home)
    store = open_store(paths.db_file)
    settings = load_settings(paths.config_file)
    now = datetime.now(UTC)
    year, week, _ = now.astimezone(settings.zone()).isocalendar()
    if what == "week":
        return lambda: build_report(store, settings, now, year, week)
    if what == "trends, read-only":
        def read_only() -> object:
            with reads.read_only(paths.db_file) as conn:
                return build_trends(reads.run_facts(conn, now), settings.zone(), now)

        return read_only

    def through_store() -> object:
        with store.transaction() as s:
            return build_trends(queries.run_facts(s, now), settings.zone(), now)

    return through_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the histories here and keep them")
    parser.add_argument("--before", type=Path, help="another checkout to time beside this one")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="posture-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    today = datetime.now(ZoneInfo(str(ZONE))).date()
    big, small = root / f"history-{args.years:g}y", root / "history-1w"
    from datetime import timedelta

    if not (big / "data" / "posture-agent.db").exists():
        began = time.perf_counter()
        counts = write(big, today - timedelta(days=round(args.years * 365.25) - 1), today)
        print(f"generated {args.years:g} years: {counts} in {time.perf_counter() - began:.1f} s")
    if not (small / "data" / "posture-agent.db").exists():
        write(small, today - timedelta(days=6), today)
    html = root / "report.html"
    r = args.repeat

    # warm the file cache and the bytecode once
    cli(big, "report", "--json")()
    rows: list[tuple[str, float, str]] = []
    names = ('python -c "pass"', 'python -c "import sqlalchemy" (baseline)', "report --json, 1 week of history",
             f"report --json, {args.years:g} years of history", f"trends --json, {args.years:g} years",
             f"report --html, {args.years:g} years")
    base_py = best_time(process("-c", "pass"), r, names[0])
    base_sa = best_time(process("-c", "import sqlalchemy"), r, names[1])
    rows.append((names[0], base_py, ""))
    rows.append((names[1], base_sa, ""))
    week_small = best_time(cli(small, "report", "--json"), r, names[2])
    week_big = best_time(cli(big, "report", "--json"), r, names[3])
    rows.append((names[2], week_small, ""))
    rows.append((names[3], week_big, "target < 0.5 s"))
    trends = best_time(cli(big, "trends", "--json"), r, names[4])
    rows.append((names[4], trends, f"target <= {TRENDS_RATIO}x sqlalchemy (was 0.84-0.91 s)"))
    by_user = best_time(cli(big, "trends", "--json", "--source", "user"), r, "trends --source user")
    rows.append(("trends --source user", by_user, "one source: the same index (took 48 s)"))
    page = best_time(cli(big, "report", "--html", str(html)), r, names[5])
    rows.append((names[5], page, f"target <= {PAGE_RATIO}x sqlalchemy (was 3.0-4.3 s, 7-8x)"))
    if args.before:
        label = f"{args.before.name} checkout"
        old_trends = best_time(cli(big, "trends", "--json", source=args.before), r, f"trends, {label}")
        rows.append((f"trends, {label}", old_trends, "before"))
        old_page = best_time(cli(big, "report", "--html", str(root / "before.html"), source=args.before), r,
                             f"report --html, {label}")
        rows.append((f"report --html, {label}", old_page, "before"))
    inner_small = best_time(in_process(small, "week"), r * 4)
    inner_big = best_time(in_process(big, "week"), r * 4)
    inner_trends = best_time(in_process(big, "trends"), r)
    inner_reads = best_time(in_process(big, "trends, read-only"), r)
    rows.append(("in-process weekly report, 1 week of history", inner_small, ""))
    rows.append((f"in-process weekly report, {args.years:g} years", inner_big, ""))
    rows.append((f"in-process trends through the store, {args.years:g} years", inner_trends, ""))
    rows.append((f"in-process trends read-only (sqlite3), {args.years:g} years", inner_reads, "what `trends` runs"))

    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'measurement':<{width}}  {'best s':>9}  {'x sqlalchemy':>12}  {'CPU s':>6}  note")
    for name, seconds, note in rows:
        cpu = f"{CPU[name]:6.3f}" if name in CPU else " " * 6
        print(f"{name:<{width}}  {seconds:9.3f}  {seconds / base_sa:12.2f}  {cpu}  {note}")
    print(f"\nweek on {args.years:g} years / week on 1 week: whole process {week_big / week_small:.2f}x, "
          f"CPU {CPU[names[3]] / CPU[names[2]]:.2f}x, in-process {inner_big / inner_small:.2f}x (target <= 1.5x)")
    size = html.stat().st_size
    for what, ratio, cpu_ratio, target in (
        ("report --html", page / base_sa, CPU[names[5]] / CPU[names[1]], PAGE_RATIO),
        ("trends", trends / base_sa, CPU[names[4]] / CPU[names[1]], TRENDS_RATIO),
    ):
        verdict = "ok" if ratio <= target else "OVER"
        print(f"{what} on {args.years:g} years: {ratio:.2f}x import sqlalchemy wall, {cpu_ratio:.2f}x CPU "
              f"(target <= {target}x): {verdict}")
    print(f"page size for {args.years:g} years: {size / 1e6:.2f} MB (target < 2 MB): "
          f"{'ok' if size < 2_000_000 else 'OVER'}")
    print(f"report --json minus the sqlalchemy baseline: {week_big - base_sa:.3f} s wall, "
          f"{CPU[names[3]] - CPU[names[1]]:.3f} s CPU")
    print(f"(fastest of {r} runs; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; histories in {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
