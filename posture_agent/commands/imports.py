"""`run import FILE…`: one line of outcome per file and a summary; exit status 1 if any file failed.
A failed file's line goes to stderr (a failure is for the user to see, even with --json); every
other line and the summary to stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from posture_agent.context import Context, add_json
from posture_agent.errors import EXIT_ERROR, EXIT_OK
from posture_agent.filenames import printable


def register_run_import(run_sub: Any) -> None:
    """Adds `import` to the `run` command's actions."""
    p = run_sub.add_parser(
        "import", help="import runs from GPX, TCX or FIT files (also .gz); exit status 1 if any file failed",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="GPX, TCX or FIT files (also .gz) from a watch or app")
    add_json(p)
    p.set_defaults(func=cmd_run_import)


def _offset_text(offset: Any) -> str | None:
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "file": outcome.path,
        "status": outcome.status,
        "detail": outcome.detail,
        "format": outcome.format,
        "partial": outcome.partial,
        "damage": outcome.damage,
        "run_ids": outcome.run_ids,
        "activities": [
            {
                "leg": leg.activity.leg,
                "status": leg.status,
                "detail": leg.detail,
                "sport": leg.activity.sport,
                "sport_in_file": leg.activity.label,
                "sport_inferred": leg.activity.sport_inferred,
                "start": leg.activity.start.isoformat(timespec="seconds"),
                "start_offset": _offset_text(leg.activity.utc_offset),
                "start_local": leg.activity.local_start.isoformat(timespec="seconds")
                if leg.activity.utc_offset is not None else None,
                "elapsed_s": round(leg.activity.elapsed.total_seconds(), 1),
                "moving_s": round(leg.activity.moving.total_seconds(), 1) if leg.activity.moving else None,
                "distance_km": round(leg.activity.distance_km, 3) if leg.activity.distance_km is not None else None,
                "run_id": leg.run_id,
            }
            for leg in outcome.legs
        ],
    }


def summary(outcomes: list[Any]) -> dict[str, int]:
    from posture_agent.importers.importing import STATUSES

    counts = {status: sum(1 for o in outcomes if o.status == status) for status in STATUSES}
    return {"files": len(outcomes), **counts, "runs_imported": sum(len(o.run_ids) for o in outcomes)}


def summary_text(counts: dict[str, int]) -> str:
    runs = counts["runs_imported"]
    return (
        f"{counts['files']} file{'s' if counts['files'] != 1 else ''}: {counts['imported']} imported "
        f"({runs} run{'s' if runs != 1 else ''}), {counts['already_imported']} already imported, "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    )


def outcome_line(o: Any) -> str:
    return f"{printable(o.path)}: {o.status.replace('_', ' ')}: {o.detail}"


def cmd_run_import(ctx: Context, args: argparse.Namespace) -> int:
    from posture_agent.importers.importing import FAILED, import_files

    outcomes = import_files(ctx.journal, [Path(f) for f in args.files], parallel=True)
    counts = summary(outcomes)
    for o in outcomes:
        if o.status == FAILED:
            print(outcome_line(o), file=sys.stderr)

    def text() -> list[str]:
        return [*(outcome_line(o) for o in outcomes if o.status != FAILED), summary_text(counts)]

    ctx.emit({"files": [outcome_json(o) for o in outcomes], "summary": counts}, text)
    return EXIT_ERROR if counts["failed"] else EXIT_OK
