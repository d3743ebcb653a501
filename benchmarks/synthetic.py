"""A realistic synthetic history written into a real posture-agent SQLite file.

Check-ins on the configured schedule (desk every 45 min on workdays, the drive to and from work,
the sofa every evening), most answered and some skipped or missed; the daily drills on most days;
the circuit on most Tuesdays and Fridays; four runs a week with a soreness report two hours after
most of them. How much the user slouches drifts from week to week, and soreness after a run grows
with the slouching in the two days before it and with the run's length, plus noise: so the trend
figures have something real to find.

    python benchmarks/synthetic.py --home DIR [--years 10] [--days N] [--end ISO] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time as timer
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update

from posture_agent.paths import Paths
from posture_agent.store import tables as t
from posture_agent.store.db import open_store

ZONE = ZoneInfo("Europe/Berlin")
DEVICE = "synthetic:000000000000"
DAILY_DRILLS = ("wall-alignment", "chin-tuck")
RUN_DAYS = (1, 3, 5, 6)  # Tue, Thu, Sat, Sun


def _at(day: date, hh: int, mm: int, jitter_min: float, rng: random.Random) -> datetime:
    local = datetime.combine(day, time(hh, mm), ZONE) + timedelta(minutes=rng.uniform(0, jitter_min))
    return local.astimezone(UTC)


def _row(at: datetime, source: str = "prompt", **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "created_at": at, "device": DEVICE, "source": source, "at": at, **fields}


def generate(first: date, last: date, seed: int = 1) -> dict[str, list[dict[str, Any]]]:
    """Rows per table for every local day from `first` to `last`."""
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {"checkins": [], "drills": [], "circuits": [], "runs": [], "soreness": []}
    lean = 0.35  # the week's tendency to slouch, a bounded random walk
    tilts_until = first - timedelta(days=1)  # pelvic tilts join the drills for 14 days after a sore lower back
    day = first
    while day <= last:
        if day.weekday() == 0:
            lean = min(0.8, max(0.05, lean + rng.gauss(0, 0.08)))
        workday = day.weekday() < 5
        slots: list[tuple[datetime, str]] = []
        if workday:
            slots += [(_at(day, 9, 0, 0, rng) + timedelta(minutes=45 * i), "desk") for i in range(12)]
            slots += [(_at(day, 9, 0, 5, rng), "car"), (_at(day, 17, 45, 5, rng), "car")]
        slots += [(_at(day, 19, 30, 0, rng) + timedelta(hours=i), "sofa") for i in range(3)]
        for at, context in slots:
            roll = rng.random()
            if roll < 0.12:
                posture = "missed"
            elif roll < 0.20:
                posture = "skipped"
            else:
                p = lean + (0.15 if context == "sofa" else 0.05 if context == "car" else 0.0)
                posture = "slouched" if rng.random() < p else rng.choice(("upright", "upright", "standing"))
            rows["checkins"].append(_row(at, context=context, posture=posture, prompted=True))
        roll = rng.random()
        if roll < 0.93:
            done = DAILY_DRILLS if roll < 0.85 else DAILY_DRILLS[:1]
            if day <= tilts_until and rng.random() < 0.85:
                done = (*done, "pelvic-tilt")
            at = _at(day, 7, 30, 40, rng)
            rows["drills"] += [_row(at, source="tray", drill=name) for name in done]
        if day.weekday() in (1, 4) and rng.random() < 0.7:
            rows["circuits"].append(_row(_at(day, 18, 30, 30, rng), source="tray", rounds=2))
        if day.weekday() in RUN_DAYS and rng.random() < 0.95:
            long_run = day.weekday() == 6
            km = round(rng.uniform(14, 26) if long_run else rng.uniform(6, 12), 2)
            duration = km * rng.uniform(5.0, 6.5) * 60
            start = _at(day, 9 if day.weekday() >= 5 else 18, 0, 60, rng)
            run_id = str(uuid.uuid4())
            rows["runs"].append({
                "id": run_id, "created_at": start, "device": DEVICE, "source": "import", "start": start,
                "duration_s": duration, "moving_s": duration * 0.97, "distance_km": km, "sport": "running",
                "fingerprint": None, "origin": None,
            })
            if rng.random() < 0.85:
                at = start + timedelta(seconds=duration) + timedelta(hours=2, minutes=rng.uniform(0, 30))
                base = 10 * lean + (2 if long_run else 0)
                score = {
                    "upper_back": base * 0.8 + rng.gauss(0, 1.5),
                    "mid_back": base * 0.6 + rng.gauss(0, 1.5),
                    "lower_back": base * 0.3 + rng.gauss(0, 1.0),
                    "si_joint": rng.gauss(0.3, 0.6),
                }
                clipped: dict[str, Any] = {k: max(0, min(10, round(v))) for k, v in score.items()}
                rows["soreness"].append(_row(at, **clipped, run_id=run_id, form="", si_pain_reported=False))
                if clipped["lower_back"] >= 3:
                    tilts_until = at.astimezone(ZONE).date() + timedelta(days=13)
        day += timedelta(days=1)
    return rows


def _ends(row: dict[str, Any]) -> datetime:
    if "start" in row:
        return row["start"] + timedelta(seconds=row["duration_s"])  # type: ignore[no-any-return]
    return row["at"]  # type: ignore[no-any-return]


def write(home: Path, first: date, last: date, seed: int = 1, until: datetime | None = None) -> dict[str, int]:
    """Creates (or extends) the database under `home` and writes the rows in bulk; nothing after `until`."""
    paths = Paths.resolve(home)
    paths.make_dirs()
    if not paths.config_file.exists():
        paths.config_file.write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    store = open_store(paths.db_file, paths.backup_dir)
    until = until or datetime.now(UTC)
    rows = {
        name: [row for row in table_rows if _ends(row) <= until]
        for name, table_rows in generate(first, last, seed).items()
    }
    tables = {"checkins": t.checkins, "drills": t.drill_completions, "circuits": t.circuits, "runs": t.runs,
              "soreness": t.soreness_reports}
    with store.transaction() as s:
        for name, table in tables.items():
            if rows[name]:
                s.execute(insert(table), rows[name])
        created = datetime.combine(first, time(0), ZONE).astimezone(UTC).isoformat()
        s.execute(update(t.meta).where(t.meta.c.key == "created_at").values(value=created))
    store.close()
    return {name: len(v) for name, v in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--days", type=int, help="instead of --years")
    parser.add_argument("--end", help="last day, YYYY-MM-DD (default today in Europe/Berlin)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    last = date.fromisoformat(args.end) if args.end else datetime.now(ZONE).date()
    span = args.days if args.days else round(args.years * 365.25)
    first = last - timedelta(days=span - 1)
    began = timer.perf_counter()
    counts = write(args.home, first, last, args.seed)
    took = timer.perf_counter() - began
    print(f"{first} to {last}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
