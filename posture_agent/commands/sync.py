"""sync setup FOLDER · sync now · sync status: share the history with another computer through a
folder the user's sync service keeps in step (docs/sync.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posture_agent.context import Context, add_json
from posture_agent.errors import EXIT_ERROR, UserError
from posture_agent.timeparse import spoken


def register(sub: Any) -> None:
    p = sub.add_parser("sync", help="share the history with another computer through a synced folder")
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = ssub.add_parser("setup", help="use FOLDER (kept in step by Syncthing, Dropbox, …) and do a first round")
    s.add_argument("folder", metavar="FOLDER", help="a folder your sync service (Syncthing, Dropbox, …) keeps in step")
    add_json(s)
    s.set_defaults(func=cmd_setup)
    s = ssub.add_parser("now", help="write this computer's new records and merge the others' now")
    add_json(s)
    s.set_defaults(func=cmd_now)
    s = ssub.add_parser("status", help="devices, when each was last heard from, pending and unusable files")
    add_json(s)
    s.set_defaults(func=cmd_status)


def _round_text(result: Any) -> list[str]:
    lines = [f"wrote {result.written} record(s) of this computer; merged {result.merged} from other devices"]
    if result.new_device_id:
        lines.append(f"another computer was writing as this one: this computer is now device {result.new_device_id}")
    lines += [f"waiting: {n.device}/{n.file}: {n.reason}" for n in result.pending]
    lines += [f"unusable: {n.device}/{n.file}: {n.reason}" for n in result.unusable]
    lines += _row_lines(result.rows)
    if result.rewritten:
        lines.append(f"{result.rewritten}: this computer's records were written to it again")
    return lines


def _row_lines(rows: list[dict[str, str]]) -> list[str]:
    """One line per row refused, waiting or resolved by the last-writer rule (already one-line text)."""
    return [f"{r['kind']} row: {r['device']}/{r['file']}: {r['table']} {r['id']}: {r['reason']}" for r in rows]


def _finish(ctx: Context, result: Any) -> int:
    ctx.emit(result.to_json(), lambda: _round_text(result))
    if result.problem:
        raise UserError(result.problem)
    return 0


def cmd_setup(ctx: Context, args: argparse.Namespace) -> int:
    from posture_agent.sync import engine

    settings = ctx.settings()
    result = engine.setup(ctx.store(), Path(args.folder), ctx.clock, settings.device_name)
    return _finish(ctx, result)


def cmd_now(ctx: Context, args: argparse.Namespace) -> int:
    from posture_agent.sync import engine

    settings = ctx.settings()
    store = ctx.store()
    if engine.configured_folder(store) is None:
        raise UserError("sync is not set up: run `posture-agent sync setup FOLDER` first")
    return _finish(ctx, engine.sync_round(store, ctx.clock, settings.device_name))


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    from posture_agent.sync import engine

    data = engine.status(ctx.store(), ctx.settings().device_name)
    zone, now = ctx.zone(), ctx.clock.now()

    def text() -> list[str]:
        if data["folder"] is None:
            return ["sync is not set up (posture-agent sync setup FOLDER)"]
        lines = [
            f"folder: {data['folder']}{'' if data['reachable'] else ' (not reachable)'}",
            f"this computer: {data['device']['label']}; "
            f"last change {spoken(data['last_change'], zone, now) or 'never'}; "
            f"{data['pending_out']} record(s) not yet written to the folder",
        ]
        if data["problem"]:
            lines.append(f"problem: {data['problem']}")
        for d in data["devices"]:
            lines.append(f"device {d['label']}: last heard from {spoken(d['last_heard_from'], zone, now) or 'never'}, "
                         f"{d['records_merged']} record(s) merged from {d['files_merged']} file(s)")
        lines += [f"waiting: {n['device']}/{n['file']}: {n['reason']}" for n in data["pending"]]
        lines += [f"unusable: {n['device']}/{n['file']}: {n['reason']}" for n in data["unusable"]]
        lines += _row_lines(data["rows"])
        if data["rewritten"]:
            lines.append(f"{data['rewritten']['why']}: this computer's records were written to it again "
                         f"({spoken(data['rewritten']['when'], zone, now)})")
        return lines

    ctx.emit(data, text)
    return EXIT_ERROR if data["problem"] else 0


def doctor_check(ctx: Context) -> dict[str, Any]:
    """`doctor`'s line about sync: the folder, the devices heard from, and any problem."""
    from posture_agent.sync import engine

    def result(ok: bool, detail: str, fix: str = "") -> dict[str, Any]:
        return {"check": "sync", "ok": ok, "detail": detail, "fix": fix or None}

    if not ctx.paths.db_file.exists():
        return result(True, "not set up")
    try:
        data = engine.status(ctx.store(), ctx.settings().device_name)
    except UserError as exc:
        return result(False, str(exc))
    if data["folder"] is None:
        return result(True, "not set up (posture-agent sync setup FOLDER)")
    devices = ", ".join(f"{d['label']} (last heard from {d['last_heard_from'] or 'never'})" for d in data["devices"])
    detail = f"{data['folder']}: {devices or 'no other device yet'}"
    if data["unusable"]:
        reasons = "; ".join(f"{n['device']}/{n['file']}: {n['reason']}" for n in data["unusable"][:3])
        detail += f"; {len(data['unusable'])} file(s) unusable ({reasons}; see posture-agent sync status)"
    refused = [r for r in data["rows"] if r["kind"] == "refused"]
    if refused:
        first = refused[0]
        detail += (f"; {len(refused)} row(s) refused ({first['device']}/{first['file']}: {first['table']} "
                   f"{first['id']}: {first['reason']}; see posture-agent sync status)")
    if data["problem"]:
        return result(False, f"{detail}; {data['problem']}", "plug the folder back in, or make it writable")
    return result(True, detail)
