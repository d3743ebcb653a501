"""Commands that protect the data itself: backup (now, or list them) and restore FILE / --fresh."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from posture_agent.context import Context, add_json
from posture_agent.errors import UserError
from posture_agent.inputs import refuse_non_file


def register(sub: Any) -> None:
    p = sub.add_parser("backup", help="make a backup of the database now (or --list them)")
    p.add_argument("--list", action="store_true", help="list the backups, newest first, and whether each restores")
    add_json(p)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", help="restore a backup, keeping the current database aside (never deleted)"
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="a backup file (see: posture-agent backup --list)")
    p.add_argument(
        "--fresh", action="store_true",
        help="start with an empty database instead (the current one is kept aside)",
    )
    add_json(p)
    p.set_defaults(func=cmd_restore)


def cmd_backup(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.store.backup import backup_now, list_backups

    if args.list:
        found = list_backups(ctx.paths.backup_dir)
        data = {
            "backups": [
                {"path": str(b.path), "size": b.size, "modified": b.modified.isoformat(timespec="seconds"),
                 "schema": b.revision, "ok": b.ok, "problem": b.problem}
                for b in found
            ]
        }

        def text() -> list[str]:
            if not found:
                return [f"No backups yet in {ctx.paths.backup_dir}: posture-agent backup"]
            return [
                f"{b.modified:%Y-%m-%d %H:%M}  {b.size:>9}  {'ok ' if b.ok else 'BAD'}  {b.path}" for b in found
            ]

        ctx.emit(data, text)
        return
    if not ctx.paths.db_file.exists():
        raise UserError(f"there is no database yet at {ctx.paths.db_file}: nothing to back up")
    ctx.store()  # the usual checks first: damaged, newer or locked databases are refused
    made = backup_now(ctx.paths, ctx.clock.now())
    ctx.emit({"path": str(made), "size": made.stat().st_size}, lambda: str(made))


@contextmanager
def agent_stopped(ctx: Context) -> Iterator[None]:
    """Hold the agent's lock while the database is swapped: a running agent would keep writing to
    the file moved aside (its answers lost from the restored one), and an agent started during the
    restore would open a half-swapped database. So: refuse while one runs, and keep one from
    starting until the restore is done."""
    from posture_agent.agent.lock import AlreadyRunning, InstanceLock

    lock = InstanceLock(ctx.paths.runtime_dir)
    try:
        lock.acquire()
    except AlreadyRunning:
        pid = lock.holder() or "unknown"
        raise AlreadyRunning(
            f"stop the agent first: an agent is running for this home (pid {pid}) and writes to the "
            "database; quit it from the tray or `kill "
            f"{pid}`, then run the restore again. Nothing was changed."
        ) from None
    try:
        yield
    finally:
        lock.release()


def cmd_restore(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.store.restore import restore
    from posture_agent.store.restored_rows import NAMED

    if bool(args.file) == bool(args.fresh):
        raise UserError("restore needs a backup FILE or --fresh (see: posture-agent backup --list)")
    if args.file:
        # a FIFO would hang the restore's first read
        refuse_non_file(Path(args.file), "the backup", "give a backup file (see: posture-agent backup --list)")
    with agent_stopped(ctx):
        done = restore(ctx.paths, Path(args.file) if args.file else None, ctx.clock.now())
    data = {
        "restored_from": str(done.source) if done.source else None,
        "database": str(done.database),
        "previous_kept_as": str(done.previous) if done.previous else None,
        "migrated_from": done.migrated_from,
        "refused_rows": [row.to_json() for row in done.refused],
    }

    def text() -> list[str]:
        first = f"Restored {done.source} into {done.database}." if done.source else (
            f"Started an empty database at {done.database}."
        )
        lines = [first]
        if done.migrated_from:
            lines.append(f"It was brought up to date from schema {done.migrated_from}.")
        if done.previous:
            lines.append(f"The previous database is kept as {done.previous}.")
        if done.refused:
            lines.append(f"{len(done.refused)} record(s) of the backup failed validation and were left out:")
            lines += [f"  {row.table} {row.id}: {row.reason}" for row in done.refused[:NAMED]]
        return lines

    ctx.emit(data, text)
