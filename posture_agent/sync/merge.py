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
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError

from posture_agent.domain import validation as v
from posture_agent.filenames import printable
from posture_agent.store import sharing
from posture_agent.store import tables as t
from posture_agent.store.db import Store
from posture_agent.sync.segments import BadFile, Segment

log = logging.getLogger(__name__)

ALIASES = "sync.run_aliases"
"""{run id from another device: this database's run id} for activity files both computers imported."""
NOTES_KEPT = 20
"""Refused rows named per file (the count says how many more)."""


@dataclass(frozen=True)
class RowNote:
    """A row of another computer's file that was refused (`kind` "refused") or that differed from
    the record here under the same id ("conflict", resolved by the last-writer rule)."""

    table: str
    id: str
    reason: str
    kind: str = "refused"
    until: str | None = None
    """For a row dated in the future ("waiting"): when it is merged."""

    def to_json(self) -> dict[str, str]:
        return {"table": self.table, "id": self.id, "reason": self.reason, "kind": self.kind}


def merge_again_at(notes: list[RowNote]) -> str | None:
    """When the file of these notes must be merged again: its earliest row dated in the future."""
    return min((n.until for n in notes if n.until), default=None)


OnApplied = Callable[[Connection, str, Segment, int, list[RowNote]], None]


@dataclass
class Applied:
    new_records: int = 0
    waiting: dict[str, str] = field(default_factory=dict)
    """file key → why it waits (a run it points at has not arrived)."""
    refused: dict[str, str] = field(default_factory=dict)
    """file key → why its records cannot go into this database (none of them went in)."""
    rows: dict[str, list[RowNote]] = field(default_factory=dict)
    """file key → its rows refused alone, and its records that differed from the ones here."""


def schema_is_newer(schema: str, head: str) -> bool:
    try:
        return int(schema) > int(head)
    except ValueError:
        return schema != head


def apply_all(store: Store, pending: list[tuple[str, Segment]], on_applied: OnApplied, now: datetime,
              own_ids: list[str]) -> Applied:
    """Apply every (key, segment) that can be, repeating while one unblocks another (a run's file
    after the soreness file that points at it); `on_applied(conn, key, segment, new, notes)`
    records it. Each row passes domain/validation.py (as of `now`) or is refused alone."""
    result = Applied()
    todo = list(pending)
    while todo:
        waiting: list[tuple[str, Segment]] = []
        for key, segment in todo:
            try:
                with store.transaction() as conn:  # reads only: a file that waits writes nothing
                    blocker = _blocker(conn, segment)
                if blocker is None:
                    with store.transaction() as conn:
                        sharing.take_write_lock(conn)  # a `sync now` and the agent's round, one after the other
                        notes: list[RowNote] = []
                        new = _apply(conn, segment, now, own_ids, notes)
                        on_applied(conn, key, segment, new, notes)
                    result.new_records += new
                    result.waiting.pop(key, None)
                    if notes:
                        result.rows[key] = notes
                    continue
            except (BadFile, OSError) as exc:  # changed or unreadable since the check: nothing of it went in
                result.refused[key] = str(exc) if isinstance(exc, BadFile) else f"cannot be read: {exc.strerror or exc}"
                result.waiting.pop(key, None)
                continue
            except (IntegrityError, StatementError, ValueError, TypeError, KeyError) as exc:
                # a bug of ours or another device's: this file is refused, the rest merges
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


def _aliases(conn: Connection, segment: Segment) -> dict[str, str]:
    """The known aliases, plus this file's runs of an activity file already here under another id."""
    aliases: dict[str, str] = sharing.read_state(conn, ALIASES) or {}
    for run_id, fingerprint in segment.runs.items():
        here = sharing.run_for_fingerprint(conn, fingerprint) if fingerprint else None
        if here is not None and here != run_id:
            aliases[run_id] = here  # the same activity file, imported on both computers: one run
    return aliases


def _blocker(conn: Connection, segment: Segment) -> str | None:
    """Why the segment must wait (a soreness report points at a run not here yet), else None."""
    aliases = _aliases(conn, segment)
    wanted = {aliases.get(ref, ref) for ref in segment.run_refs} - set(segment.runs)
    missing = wanted - sharing.ids_of(conn, t.runs, wanted)
    if missing:
        return f"points at run {printable(sorted(missing)[0][:8])} that has not arrived yet"
    return None


def _apply(conn: Connection, segment: Segment, now: datetime, own_ids: list[str], notes: list[RowNote]) -> int:
    """Write the segment's rows that pass validation, one by one; the number that were new. A row
    refused, a duplicate id in the file, or a record that differs from the one here is noted."""
    aliases = _aliases(conn, segment)
    writer = sharing.RowWriter(conn)
    kept = _Notes(notes)
    own = tuple(f":{d}" for d in own_ids)
    seen: set[int] = set()
    received: list[str] = []
    new = 0
    for line, item in segment.records():
        if not (isinstance(item, dict) and isinstance(item.get("t"), str) and isinstance(item.get("r"), dict)):
            kept.add(RowNote("?", f"line {line}", "not a record ({\"t\": table, \"r\": row})"))
            continue
        name, row = item["t"], item["r"]
        if name not in sharing.SHARED:
            continue  # a table this version does not share (a newer version's): left out
        rid = row.get("id")
        shown = printable(rid)[:36] if isinstance(rid, str) and rid else f"line {line}"
        try:
            v.check_row(name, row, now)
        except v.Future as exc:
            kept.add(RowNote(name, shown, f"{printable(str(exc))}: merged once this clock reaches it", "waiting",
                             exc.until.isoformat()))
            continue
        except v.Invalid as exc:
            kept.add(RowNote(name, shown, printable(str(exc))))
            continue
        key = hash((name, rid))
        if key in seen:
            kept.add(RowNote(name, shown, "appears twice in this file: the first is kept"))
            continue
        seen.add(key)
        if name == "runs" and rid in aliases:
            continue  # this database's run for the same activity file stands for it
        row = _aliased(name, row, aliases)
        try:
            outcome = writer.put(sharing.SHARED[name], row)
        except sharing.IntegrityError as exc:
            kept.add(RowNote(name, shown, f"refused by the database ({printable(str(exc))[:120]})"))
            continue
        if outcome == "new":
            new += 1
            if str(row["device"]).endswith(own):
                received.append(rid)
        elif outcome in ("ours", "theirs"):
            which = "the version here (written later)" if outcome == "ours" else "this file's (written later)"
            kept.add(RowNote(name, shown, f"differs from the record here under the same id: kept {which}",
                             "conflict"))
    for gone in writer.dangling_reports():
        new -= 1
        kept.add(RowNote("soreness_reports", gone, "points at a run that was refused"))
    kept.close()
    if aliases:
        sharing.write_state(conn, ALIASES, aliases)
    if received:
        sharing.write_state(conn, sharing.RECEIVED_OWN, (sharing.read_state(conn, sharing.RECEIVED_OWN) or [])
                            + received)
    return new


class _Notes:
    """The first NOTES_KEPT notes of a file, then one that says how many more (a file of 200,000
    bad rows must not fill memory or the sync state); the earliest `until` of all is kept."""

    def __init__(self, notes: list[RowNote]) -> None:
        self.notes, self.more = notes, 0
        self.until: str | None = None

    def add(self, note: RowNote) -> None:
        if len(self.notes) < NOTES_KEPT:
            self.notes.append(note)
            return
        self.more += 1
        if note.until and (self.until is None or note.until < self.until):
            self.until = note.until

    def close(self) -> None:
        if self.more:
            self.notes.append(RowNote("", "", f"and {self.more} more row(s) refused or waiting", "refused", self.until))


def _aliased(name: str, row: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """A row with the run ids it names mapped to this database's runs for the same activity file."""
    if name == "soreness_reports" and row.get("run_id"):
        return {**row, "run_id": aliases.get(row["run_id"], row["run_id"])}
    if name == "tombstones":  # a run deleted there under its own id is this database's run here
        replaced = row.get("replaced_by")
        return {**row, "record_id": aliases.get(row["record_id"], row["record_id"]),
                "replaced_by": aliases.get(replaced, replaced) if replaced else replaced}
    return row
