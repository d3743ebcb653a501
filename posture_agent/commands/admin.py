"""Commands about the app itself: config, doctor, export, start."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
from datetime import time
from typing import Any

from posture_agent import __version__
from posture_agent.config import DAYS, ConfigError, load_settings
from posture_agent.context import Context, add_json
from posture_agent.domain import records as r
from posture_agent.logsetup import log_problem
from posture_agent.timeparse import iso


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="show, locate or check the config file")
    p.add_argument("action", choices=["show", "path", "check"])
    add_json(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("doctor", help="check the database, the config and the desktop")
    add_json(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("export", help="all records as CSV or JSON on stdout")
    p.add_argument("--format", choices=["csv", "json"], default="json")
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
    data = settings_json(ctx.settings())

    def text() -> list[str]:
        lines = [f"# {path}"]
        for key, value in data.items():
            lines.append(f"{key} = {value}")
        return lines

    ctx.emit(data, text)


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> int:
    """Each check gives ok/problem and, when it fails, what to do about it."""
    from posture_agent.store.migrate import SCHEMA_HEAD
    from posture_agent.store.sqlite_file import quick_check, read_revision

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str, fix: str = "") -> None:
        checks.append({"check": name, "ok": ok, "detail": detail, "fix": fix or None})

    paths = ctx.paths
    try:
        load_settings(paths.config_file)
        state = "present" if paths.config_file.exists() else "absent (defaults apply)"
        check("config", True, f"{paths.config_file}: {state}")
    except ConfigError as exc:
        check("config", False, str(exc), "edit the file, or rename it to get the defaults back")
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
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    ctx.write(text.getvalue())
