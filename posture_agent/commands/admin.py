"""Commands about the app itself: config, doctor, export, start."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import re
from datetime import time
from typing import Any

from posture_agent import __version__
from posture_agent.config import DAYS, load_settings, load_settings_kept, settings_toml
from posture_agent.context import Context, add_json
from posture_agent.domain import records as r
from posture_agent.logsetup import log_problem
from posture_agent.timeparse import iso


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="show, locate or check the config file")
    p.add_argument("action", choices=["show", "path", "check"],
                   help="show: the settings in use, as TOML; path: where the file is; check: validate it")
    add_json(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("doctor", help="check the database, the config and the desktop")
    add_json(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("export", help="all records as CSV or JSON on stdout")
    p.add_argument("--format", choices=["csv", "json"], default="json", help="csv or json (default json)")
    p.set_defaults(func=cmd_export)


def settings_json(settings: Any) -> dict[str, Any]:
    """The settings in use, in the same units as the config file."""

    def plain(value: Any) -> Any:
        if isinstance(value, time):
            return value.strftime("%H:%M")
        if isinstance(value, frozenset) and all(isinstance(v, int) for v in value):
            return [DAYS[d] for d in sorted(value)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    data = plain(settings)
    data["catalogue"] = sorted(settings.catalogue)
    data["timezone_in_use"] = str(settings.zone())
    return dict(data)


def cmd_config(ctx: Context, args: argparse.Namespace) -> None:
    path = ctx.paths.config_file
    if args.action == "path":
        ctx.emit({"path": str(path), "exists": path.exists()}, lambda: str(path))
        return
    if args.action == "check":
        exists = path.exists()
        settings = load_settings(path)  # raises ConfigError with file, line and key
        ctx.emit(
            {"path": str(path), "exists": exists, "ok": True},
            lambda: f"{path}: OK" if exists else f"{path}: no file yet, the defaults apply",
        )
        del settings
        return
    settings = ctx.settings()
    data = settings_json(settings)

    def text() -> str:
        head = f"# The settings in use ({path}), as the config file writes them; time zone in use: "
        return f"{head}{data['timezone_in_use']}\n{settings_toml(settings).rstrip()}"

    ctx.emit(data, text)


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> int:
    """Each check gives ok/problem and, when it fails, what to do about it."""
    from posture_agent.store.migrate import SCHEMA_HEAD
    from posture_agent.store.sqlite_file import quick_check, read_revision

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str, fix: str = "") -> None:
        checks.append({"check": name, "ok": ok, "detail": detail, "fix": fix or None})

    paths = ctx.paths
    loaded = load_settings_kept(paths.config_file)
    if loaded.problem is None:
        state = "present" if paths.config_file.exists() else "absent (defaults apply)"
        check("config", True, f"{paths.config_file}: {state}")
    else:
        check("config", False, loaded.problem_line("commands and the agent use"),
              "fix that line (posture-agent config check tells when it is right), or rename the file to get the "
              "defaults back")
    db = paths.db_file
    try:
        from posture_agent.store.recovery import refuse_if_quarantined

        refuse_if_quarantined(db, paths.backup_dir)  # a damaged database moved aside: say so and how to restore
        revision = read_revision(db) if db.exists() else None
        if not db.exists():
            check("database", True, f"{db}: not created yet (first record creates it)")
        else:
            integrity = quick_check(db)
            current = "current" if revision == SCHEMA_HEAD else f"code expects {SCHEMA_HEAD}"
            check(
                "database", integrity == "ok" and revision == SCHEMA_HEAD,
                f"{db}: schema {revision} ({current}), integrity {integrity}",
                "" if integrity == "ok" else "restore a backup: posture-agent restore FILE",
            )
            if revision == SCHEMA_HEAD and integrity == "ok":
                from posture_agent.store.schema import foreign_objects_in_file, one_line

                foreign = foreign_objects_in_file(db, revision)
                check(
                    "schema", not foreign,
                    f"not posture-agent's own: it holds {one_line(foreign)}" if foreign
                    else "posture-agent's own tables and indexes, nothing else",
                    "restore a good backup (posture-agent restore FILE), or drop what is not posture-agent's "
                    "with the sqlite3 tool (e.g. DROP TRIGGER name) while the agent is stopped" if foreign else "",
                )
            if revision == SCHEMA_HEAD:
                from posture_agent.store import queries as q

                with ctx.store().transaction() as s:
                    counts = q.counts(s)
                check("records", True, ", ".join(f"{k} {v}" for k, v in counts.items()))
    except Exception as exc:  # doctor reports what it finds, it does not stop at the first problem
        check("database", False, f"{db}: {exc}", "restore a backup: posture-agent restore FILE")
    problem = log_problem(paths.log_file)
    check(
        "logs", problem is None, f"{paths.log_file}" + (f": {problem}" if problem else ""),
        "make it a writable file (not a folder) on a disk with free space" if problem else "",
    )
    for extra in _extra_checks():
        checks.append(extra(ctx))
    ok = all(c["ok"] for c in checks)

    def text() -> list[str]:
        lines = [f"posture-agent {__version__}"]
        for c in checks:
            lines.append(f"  {'ok ' if c['ok'] else 'BAD'} {c['check']:<14} {c['detail']}")
            if c["fix"]:
                lines.append(f"      fix: {c['fix']}")
        return lines

    ctx.emit({"version": __version__, "ok": ok, "checks": checks}, text)
    return 0 if ok else 1


def _extra_checks() -> list[Any]:
    """Checks contributed by other parts (sync, desktop, notifications), imported only for doctor."""
    from posture_agent.agent.diagnostics import doctor_checks
    from posture_agent.commands.camera import doctor_check as camera_check
    from posture_agent.commands.sync import doctor_check

    return [doctor_check, camera_check, *doctor_checks()]


EXPORT_COLUMNS = (
    "type", "id", "at", "context", "posture", "prompted", "drill", "rounds", "start", "duration_s",
    "distance_km", "sport", "source", *r.REGIONS, "form", "si_pain", "run_id", "answered_by",
)


NUMERIC_COLUMNS = frozenset({"prompted", "rounds", "duration_s", "distance_km", *r.REGIONS, "si_pain"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list)."""
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def csv_cell(column: str, value: Any) -> Any:
    """A cell a spreadsheet shows and never runs: text that starts like a formula (a run's sport or a
    drill's name may come from another computer, e.g. `=HYPERLINK(…)`) gets a leading single quote,
    as OWASP advises; a plain number in a numeric column stays a number, even a negative one."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if column in NUMERIC_COLUMNS and PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def export_rows(history: r.History) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in history.checkins:
        rows.append({"type": "checkin", "id": c.id, "at": iso(c.at), "context": c.context, "posture": c.posture,
                     "prompted": c.prompted, "answered_by": c.by})
    for d in history.drills:
        rows.append({"type": "drill", "id": d.id, "at": iso(d.at), "drill": d.drill})
    for ci in history.circuits:
        rows.append({"type": "circuit", "id": ci.id, "at": iso(ci.at), "rounds": ci.rounds})
    for run in history.runs:
        rows.append({"type": "run", "id": run.id, "start": iso(run.start), "at": iso(run.start),
                     "duration_s": run.duration.total_seconds(), "distance_km": run.distance_km,
                     "sport": run.sport, "source": run.source})
    for s in history.soreness:
        rows.append({"type": "soreness", "id": s.id, "at": iso(s.at), **{k: s.region(k) for k in r.REGIONS},
                     "form": ",".join(sorted(s.form)), "si_pain": s.si_pain_reported, "run_id": s.run_id})
    for e in history.protocol_ends:
        rows.append({"type": "protocol_end", "id": e.id, "at": iso(e.at)})
    return rows


def cmd_export(ctx: Context, args: argparse.Namespace) -> None:
    rows = export_rows(ctx.journal().history())
    if args.format == "json":
        ctx.json = True
        ctx.emit({"version": 1, "records": rows}, lambda: "")
        return
    ctx.write(csv_text(rows))


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The export as CSV, each row ending in "\n", every cell through `csv_cell`. A cell holding a
    carriage return is quoted: the csv module quotes only its line terminator's characters, so each
    row is written with "\r\n" and its end then made "\n" (a bare CR would start a new row in a
    spreadsheet, and that row's first cell could be a formula)."""
    row_text = io.StringIO()
    writer = csv.DictWriter(row_text, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    lines = []
    for row in [dict(zip(EXPORT_COLUMNS, EXPORT_COLUMNS, strict=True)), *rows]:
        row_text.seek(0)
        row_text.truncate()
        writer.writerow({column: csv_cell(column, value) for column, value in row.items()})
        lines.append(row_text.getvalue().removesuffix("\r\n"))
    return "".join(line + "\n" for line in lines)
