"""Merging other devices' segments into this database: each segment in one transaction, together
with the note that it was applied, so a round cut short (the agent killed, the folder unplugged)
leaves every file either wholly merged or not at all, and the next round picks up the rest.

Records are written once and never change, so merging is "insert the UUIDs not here yet": the
order files arrive in, a file seen twice, and clocks that disagree change nothing. A soreness
report that points at a run not here yet waits (its whole file) until that run's file arrives.
A record taken back (deleted, unticked, undone, or the old version of an edited run) is a
tombstone, a record of its own that merges the same way; every read leaves out the ids tombstones
name, so a tombstone that arrives before or after its record hides it all the same, and a device
that still has the record cannot bring it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError

from posture_agent.store import sharing
from posture_agent.store import tables as t
from posture_agent.store.db import Store
from posture_agent.sync.segments import Segment

log = logging.getLogger(__name__)

ALIASES = "sync.run_aliases"
"""{run id from another device: this database's run id} for activity files both computers imported."""


OnApplied = Callable[[Connection, str, Segment, int], None]


@dataclass
class Applied:
    new_records: int = 0
    waiting: dict[str, str] = field(default_factory=dict)
    """file key → why it waits (a run it points at has not arrived)."""
    refused: dict[str, str] = field(default_factory=dict)
    """file key → why its records cannot go into this database (none of them went in)."""


def schema_is_newer(schema: str, head: str) -> bool:
    try:
        return int(schema) > int(head)
    except ValueError:
        return schema != head


def apply_all(store: Store, pending: list[tuple[str, Segment]], on_applied: OnApplied) -> Applied:
    """Apply every (key, segment) that can be, repeating while one unblocks another (a run's file
    after the soreness file that points at it); `on_applied(conn, key, segment, new)` records it."""
    result = Applied()
    todo = list(pending)
    while todo:
        waiting: list[tuple[str, Segment]] = []
        for key, segment in todo:
            try:
                with store.transaction() as conn:  # reads only: a file that waits writes nothing
                    _, blocker = _apply(conn, segment, write=False)
                if blocker is None:
                    with store.transaction() as conn:
                        sharing.take_write_lock(conn)  # a `sync now` and the agent's round, one after the other
                        new, blocker = _apply(conn, segment)
                        if blocker is None:
                            on_applied(conn, key, segment, new)
                            result.new_records += new
                            result.waiting.pop(key, None)
                            continue
            except (IntegrityError, StatementError, ValueError, TypeError, KeyError) as exc:
                # another device's bug, or a hand-edited file: this file is refused, the rest merges
                log.warning("sync: %s refused", key, exc_info=True)
                first = (str(getattr(exc, "orig", exc)).splitlines() or [""])[0]
                result.refused[key] = f"a record was refused ({exc.__class__.__name__}: {first[:120]})"
                result.waiting.pop(key, None)
                continue
            waiting.append((key, segment))
            result.waiting[key] = blocker
        if len(waiting) == len(todo):
            break
        todo = waiting
    return result


def _apply(conn: Connection, segment: Segment, write: bool = True) -> tuple[int, str | None]:
    """Insert the segment's new records: (how many were new, None), or (0, why it must wait)
    with nothing written. `write=False` only finds out whether it must wait."""
    by_table: dict[str, list[dict[str, Any]]] = {name: [] for name in sharing.SHARED}
    for table, row in segment.records:
        if table in by_table:
            by_table[table].append(row)  # a table this version does not share: left out
    aliases: dict[str, str] = sharing.read_state(conn, ALIASES) or {}
    runs = []
    for run in by_table["runs"]:
        fingerprint = run.get("fingerprint")
        here = sharing.run_for_fingerprint(conn, fingerprint) if fingerprint else None
        if here is not None and here != run["id"]:
            aliases[run["id"]] = here  # the same activity file, imported on both computers: one run
        else:
            runs.append(run)
    soreness = []
    for row in by_table["soreness_reports"]:
        run_id = row.get("run_id")
        soreness.append({**row, "run_id": aliases.get(run_id, run_id)} if run_id else row)
    wanted = {row["run_id"] for row in soreness if row.get("run_id")} - {r["id"] for r in runs}
    missing = wanted - sharing.ids_of(conn, t.runs, wanted)
    if missing:
        return 0, f"points at run {sorted(missing)[0][:8]} that has not arrived yet"
    if not write:
        return 0, None
    tombstones = [
        {**row, "record_id": aliases.get(row["record_id"], row["record_id"]),
         "replaced_by": aliases.get(row.get("replaced_by") or "", row.get("replaced_by"))}
        for row in by_table["tombstones"]
    ]  # a run deleted there under its own id is this database's run for the same activity file
    by_table["runs"], by_table["soreness_reports"], by_table["tombstones"] = runs, soreness, tombstones
    new = sum(sharing.insert_new(conn, sharing.SHARED[name], rows) for name, rows in by_table.items())
    if aliases:
        sharing.write_state(conn, ALIASES, aliases)
    return new, None
