"""One sync round, the setup and the status: write this device's new records as a segment, then
merge the segments of every other device found in the folder.

State lives in the database's `meta` table (keys `sync.*`): the folder, this device's export
cursor (rowids per table) and the segments it wrote, and per other device the segments applied.
A folder that is unplugged or read-only never stops the agent: the round says why, once.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from posture_agent.clock import Clock
from posture_agent.errors import UserError
from posture_agent.store import sharing
from posture_agent.store.db import Store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.sync import segments as sg
from posture_agent.sync.merge import apply_all, schema_is_newer

log = logging.getLogger(__name__)

FOLDER, OUT, LAST, IN = sharing.SYNC_FOLDER, "sync.out", "sync.last", "sync.in."
SEGMENT_RECORDS = 10_000
"""At most this many records a file, so that a sync service never moves one huge file."""
COMPACT_AT = 64
"""When this device has this many segments, its oldest small ones are packed into one: peers read
the new file once and find every record there already, and the sync service drops the old files.
Without it years of one-record rounds would leave tens of thousands of files in the folder."""
RECHECKED = 3
"""This device's newest files whose header is read again each round, to notice another computer
overwriting them under the same id; older ones are trusted by name (a round stays O(new files))."""


@dataclass
class FileNote:
    device: str
    file: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"device": self.device, "file": self.file, "reason": self.reason}


@dataclass
class Round:
    """What one round did and found."""

    written: int = 0
    """This device's records written to the folder."""
    merged: int = 0
    """Other devices' records new to this database."""
    pending: list[FileNote] = field(default_factory=list)
    """Files kept for later: a newer posture-agent's, or waiting for a run that has not arrived."""
    unusable: list[FileNote] = field(default_factory=list)
    """Files that cannot be used as they are (checksum, not a segment); retried every round."""
    problem: str | None = None
    """Why the folder could not be used (unplugged, read-only), None when it could."""
    new_device_id: str | None = None
    """Set when another computer was found writing as this device: this one took a new id."""
    news: str | None = None
    """What the user should hear once: a new problem with the folder, or a new device id."""

    def to_json(self) -> dict[str, Any]:
        return {
            "written": self.written, "merged": self.merged, "problem": self.problem,
            "new_device_id": self.new_device_id,
            "pending": [n.to_json() for n in self.pending], "unusable": [n.to_json() for n in self.unusable],
        }


@dataclass
class Device:
    id: str
    label: str


def device(conn: Connection, device_name: str) -> Device:
    """This device's id and label, as the journal stamps records (`name:id`)."""
    device_id = sharing.read_meta(conn, "device_id") or "unknown"
    name = device_name or socket.gethostname() or "computer"
    return Device(device_id, f"{name[:40]}:{device_id}")


def configured_folder(store: Store) -> Path | None:
    with store.transaction() as conn:
        value = sharing.read_state(conn, FOLDER)
    return Path(value) if value else None


def setup(store: Store, folder: Path, clock: Clock, device_name: str) -> Round:
    """Point this device at `folder` (which the user's sync service keeps in step) and do a round."""
    folder = folder.expanduser().absolute()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give the folder your sync service keeps in step")
    if not os.access(folder, os.W_OK):
        raise UserError(f"{folder} is read-only: this computer must be able to write its own files there")
    with store.transaction() as conn:
        if sharing.read_state(conn, FOLDER) not in (None, str(folder)):
            # another folder: it gets this device's whole history, and every device's files are new
            for key in (OUT, LAST, *sharing.state_keys(conn, IN)):
                sharing.delete_state(conn, key)
        sharing.write_state(conn, FOLDER, str(folder))
    return sync_round(store, clock, device_name)


def housekeeping(store: Store, clock: Clock, device_name: str) -> Round:
    """The agent's once-a-minute round (nothing when sync is not set up). The caller stamps new
    records with `new_device_id` when set, and tells the user `news` (once: it is set only when
    something changed, so an unplugged folder is not announced every minute)."""
    if configured_folder(store) is None:
        return Round()
    return sync_round(store, clock, device_name)


def sync_round(store: Store, clock: Clock, device_name: str) -> Round:
    """Write, then merge. Never raises for the folder's sake: `Round.problem` says what went wrong."""
    folder = configured_folder(store)
    result = Round()
    if folder is None:
        result.problem = "not set up (posture-agent sync setup FOLDER)"
        return result
    for step in (_check_identity, _write_own, _merge_others):  # a read-only folder can still be read
        try:
            if not folder.is_dir():
                raise FileNotFoundError(2, "not reachable", str(folder))
            step(store, folder, clock, device_name, result)
        except OSError as exc:
            log.info("sync folder %s: %s", folder, exc, exc_info=True)
            result.problem = result.problem or _folder_problem(folder, exc)
            if not folder.is_dir():
                break
    _remember(store, clock, result)
    return result


def _folder_problem(folder: Path, exc: OSError) -> str:
    if not folder.is_dir():
        return (f"the sync folder {folder} is not reachable (unplugged or unmounted?); "
                "records stay here until it is back")
    if not os.access(folder, os.W_OK) or exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
        return f"the sync folder {folder} is read-only: this computer's new records wait until it is writable"
    return f"the sync folder {folder} cannot be used: {exc.strerror or exc}"


# --- this device -------------------------------------------------------------------------------


def _out_state(conn: Connection) -> dict[str, Any]:
    state = sharing.read_state(conn, OUT) or {}
    state.setdefault("seq", 0)
    state.setdefault("cursor", {})
    state.setdefault("written", {})
    return state


def _own_files(folder: Path, device_id: str) -> list[Path]:
    own = sg.device_dir(folder, device_id)
    if not own.is_dir():
        return []
    return sorted(p for p in own.iterdir() if sg.SEGMENT.match(p.name) and not sg.is_temporary(p.name))


def _check_identity(store: Store, folder: Path, clock: Clock, device_name: str, result: Round) -> None:
    """Files under this device's id that this database did not write mean a second computer uses
    the same id (a home restored from a backup onto a new computer): this one takes a new id.
    A file whose records are all here is this device's own, left by a round cut short."""
    with store.transaction() as conn:
        me = device(conn, device_name)
        state = _out_state(conn)
    foreign = False
    files = _own_files(folder, me.id)
    recent = {p.name for p in files[-RECHECKED:]}
    for path in files:
        known = state["written"].get(path.name)
        if known and (path.name not in recent or _same_file(path, known)):
            continue  # older files: another writer would have collided with the newest ones
        try:
            segment = sg.decode(path)
        except sg.BadFile:
            continue  # half-written: looked at again next round
        with store.transaction() as conn:
            ids_by_table: dict[str, set[str]] = {}
            for table, row in segment.records:
                ids_by_table.setdefault(table, set()).add(str(row["id"]))
            have = all(
                ids <= sharing.ids_of(conn, sharing.SHARED[name], ids)
                for name, ids in ids_by_table.items() if name in sharing.SHARED
            )
            if have:
                state["written"][path.name] = segment.sha256
                state["seq"] = max(state["seq"], segment.seq)
                sharing.write_state(conn, OUT, state)
            else:
                foreign = True
    if foreign:
        _take_new_id(store, me, result)


def _same_file(path: Path, sha256: str) -> bool:
    """The file this device wrote under that name (its header line alone is read)."""
    try:
        return sg.read_header(path).get("sha256") == sha256
    except sg.BadFile:
        return False


def _take_new_id(store: Store, me: Device, result: Round) -> None:
    new_id = uuid.uuid4().hex[:12]
    with store.transaction() as conn:
        sharing.set_meta(conn, "device_id", new_id)
        # every record stamped with the old id is written again under the new one: a file of this
        # home's that the other computer's overwrote must not be lost (merging by UUID drops the repeats)
        sharing.write_state(conn, OUT, {"seq": 0, "cursor": {}, "written": {}, "carry_ids": [me.id]})
    log.warning("another computer writes to the sync folder as device %s: this one is now %s", me.id, new_id)
    result.new_device_id = new_id


def _write_own(store: Store, folder: Path, clock: Clock, device_name: str, result: Round) -> None:
    """This device's records not yet in the folder, as new segments, then the manifest.

    Each segment is written inside a transaction that first takes the database's write lock, so
    that the agent's round and a `sync now` at the same moment never write the same sequence
    number; a round with nothing to write takes no lock and writes nothing."""
    if not os.access(folder, os.W_OK):
        raise PermissionError(13, "read-only", str(folder))
    with store.transaction() as conn:
        me = device(conn, device_name)
        state = _out_state(conn)
        _, cursor = _collect(conn, state["cursor"], [me.id, *state.get("carry_ids", [])])
    own = sg.device_dir(folder, me.id)
    wrote_any = not (own / sg.MANIFEST).exists()
    if cursor == state["cursor"] and not state.get("carry_ids") and not wrote_any:
        return
    own.mkdir(parents=True, exist_ok=True)
    while True:
        with store.transaction() as conn:
            sharing.take_write_lock(conn)
            state = _out_state(conn)
            records, cursor = _collect(conn, state["cursor"], [me.id, *state.get("carry_ids", [])])
            if not records:
                state.pop("carry_ids", None)
                state["cursor"] = cursor  # past other devices' rows merged since
                sharing.write_state(conn, OUT, state)
                break
            files = _own_files(folder, me.id)
            highest = max((int(m.group(1)) for p in files if (m := sg.SEGMENT.match(p.name))), default=0)
            seq = max(state["seq"], highest) + 1
            data = sg.encode(me.id, seq, SCHEMA_HEAD, records)
            name = sg.segment_name(seq)
            sg.write_atomic(own / name, data)
            state["seq"], state["cursor"] = seq, cursor
            state["written"][name] = sg.header_of(data)["sha256"]
            sharing.write_state(conn, OUT, state)
        result.written += len(records)
        wrote_any = True
    if wrote_any:
        state = _compact(store, own, me) or state
        sg.write_manifest(folder, me.id, me.label, SCHEMA_HEAD, clock.now().isoformat(), state["written"])


def _compact(store: Store, own: Path, me: Device) -> dict[str, Any] | None:
    """Pack this device's oldest small segments into one (up to SEGMENT_RECORDS records) once it
    has COMPACT_AT of them, then delete them; the new out state, or None when nothing was packed."""
    with store.transaction() as conn:
        state = _out_state(conn)
        names = sorted(n for n in state["written"] if (own / n).exists())
    if len(names) < COMPACT_AT:
        return None
    picked: list[str] = []
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for name in names:
        try:
            segment = sg.decode(own / name)
        except sg.BadFile:
            continue
        if len(segment.records) >= SEGMENT_RECORDS // 2:
            continue  # a big one already
        if len(records) + len(segment.records) > SEGMENT_RECORDS:
            break
        picked.append(name)
        records.update(((table, str(row["id"])), row) for table, row in segment.records)
    if len(picked) < 2:
        return None
    with store.transaction() as conn:
        sharing.take_write_lock(conn)
        state = _out_state(conn)
        if not all(name in state["written"] for name in picked):
            return None  # another process packed them a moment ago
        highest = max((int(m.group(1)) for p in own.iterdir() if (m := sg.SEGMENT.match(p.name))), default=0)
        seq = max(state["seq"], highest) + 1
        data = sg.encode(me.id, seq, SCHEMA_HEAD, [(table, row) for (table, _), row in records.items()])
        sg.write_atomic(own / sg.segment_name(seq), data)
        state["seq"] = seq
        state["written"][sg.segment_name(seq)] = sg.header_of(data)["sha256"]
        for name in picked:
            del state["written"][name]
        sharing.write_state(conn, OUT, state)
    for name in picked:
        (own / name).unlink(missing_ok=True)
    log.info("sync: packed %d segments into %s", len(picked), sg.segment_name(seq))
    return state


def _collect(conn: Connection, cursor: dict[str, int], ids: list[str]) -> tuple[list[tuple[str, dict[str, Any]]],
                                                                               dict[str, int]]:
    """Up to SEGMENT_RECORDS of this device's rows after the cursor, and the cursor after them."""
    records: list[tuple[str, dict[str, Any]]] = []
    after = dict(cursor)
    for name, table in sharing.SHARED.items():
        room = SEGMENT_RECORDS - len(records)
        if room <= 0:
            break
        rows, last = sharing.own_rows_since(conn, table, int(cursor.get(name, 0)), ids, room)
        records += [(name, row) for row in rows]
        after[name] = last
    return records, after


def pending_out(store: Store, device_name: str) -> int:
    """This device's records not yet written to the folder."""
    with store.transaction() as conn:
        me = device(conn, device_name)
        state = _out_state(conn)
        total = 0
        for name, table in sharing.SHARED.items():
            total += sharing.count_own_since(conn, table, int(state["cursor"].get(name, 0)), [me.id])
    return total


# --- the other devices -------------------------------------------------------------------------


def _in_state(conn: Connection, device_id: str) -> dict[str, Any]:
    state = sharing.read_state(conn, IN + device_id) or {}
    state.setdefault("applied", {})
    state.setdefault("records", 0)
    return state


def _merge_others(store: Store, folder: Path, clock: Clock, device_name: str, result: Round) -> None:
    root = folder / sg.SUBFOLDER
    if not root.is_dir():
        return
    with store.transaction() as conn:
        me = device(conn, device_name)
    todo: list[tuple[str, sg.Segment]] = []
    labels: dict[str, str] = {}
    for peer in sorted(p for p in root.iterdir() if p.is_dir() and p.name != me.id and not sg.is_temporary(p.name)):
        manifest = sg.read_manifest(peer / sg.MANIFEST) or {}
        listed = {s.get("name"): s.get("sha256") for s in manifest.get("segments", []) if isinstance(s, dict)}
        labels[peer.name] = str(manifest.get("device") or peer.name)
        with store.transaction() as conn:
            applied = _in_state(conn, peer.name)["applied"]
        files = sorted(peer.iterdir())
        _forget_gone(store, peer.name, applied, {p.name for p in files})
        for path in files:
            if sg.is_temporary(path.name) or path.name == sg.MANIFEST:
                continue
            if path.name.startswith("manifest") and path.suffix == ".json":
                continue  # a conflict copy of the index: the segments themselves are what count
            if not sg.SEGMENT.match(path.name):
                result.unusable.append(FileNote(peer.name, path.name, "not a posture-agent file"))
                continue
            if path.name in applied:
                continue
            note = _check(path, peer.name, listed)
            if isinstance(note, str):
                result.unusable.append(FileNote(peer.name, path.name, note))
            elif isinstance(note, FileNote):
                result.pending.append(note)
            else:
                todo.append((f"{peer.name}/{path.name}", note))
    now = clock.now().isoformat()

    def on_applied(conn: Connection, key: str, segment: sg.Segment, new: int) -> None:
        peer, name = key.split("/", 1)
        state = _in_state(conn, peer)
        state["applied"][name] = segment.sha256
        state["records"] += new
        state["heard"] = now
        state["label"] = labels.get(peer, peer)
        sharing.write_state(conn, IN + peer, state)

    applied = apply_all(store, todo, on_applied)
    result.merged += applied.new_records
    for key, why in applied.waiting.items():
        peer_id, name = key.split("/", 1)
        result.pending.append(FileNote(peer_id, name, why))
    for key, why in applied.refused.items():
        peer_id, name = key.split("/", 1)
        result.unusable.append(FileNote(peer_id, name, why))


def _forget_gone(store: Store, peer: str, applied: dict[str, str], present: set[str]) -> None:
    """Drop the notes of files their device has packed into a new one and deleted (the note
    list would otherwise grow with every file ever seen)."""
    gone = [name for name in applied if name not in present]
    if not gone:
        return
    with store.transaction() as conn:
        sharing.take_write_lock(conn)
        state = _in_state(conn, peer)
        for name in gone:
            state["applied"].pop(name, None)
        sharing.write_state(conn, IN + peer, state)


def _check(path: Path, peer: str, listed: dict[Any, Any]) -> sg.Segment | FileNote | str:
    """A usable segment, a note that it is kept for later, or why it cannot be used."""
    try:
        segment = sg.decode(path)
    except sg.NewerFile as exc:
        return FileNote(peer, path.name, f"{exc}; kept until this computer's posture-agent is updated")
    except sg.BadFile as exc:
        return str(exc)
    if segment.device_id != peer:
        return f"written by device {segment.device_id}, found in the folder of {peer}"
    if schema_is_newer(segment.schema, SCHEMA_HEAD):
        return FileNote(peer, path.name, f"written by a newer posture-agent (schema {segment.schema}, this one "
                                         f"knows {SCHEMA_HEAD}); kept until this computer is updated")
    expected = listed.get(path.name)
    if expected and expected != segment.sha256:
        return "does not match the checksum in its device's manifest: damaged in transit; tried again next round"
    return segment


# --- status ------------------------------------------------------------------------------------


def _remember(store: Store, clock: Clock, result: Round) -> None:
    """Keep what the round found for `sync status`, and log a problem when it changes (once, not
    every minute). A round that found nothing new writes nothing: the agent's idle minute must not
    touch the database (it would take its own write for new records and look again)."""
    with store.transaction() as conn:
        last = sharing.read_state(conn, LAST) or {}
        said = last.get("problem")
        if result.problem != said:
            if result.problem:
                log.warning("sync: %s", result.problem)
                result.news = result.problem
            elif said:
                log.warning("sync: the folder can be used again")
        if result.new_device_id:
            result.news = (f"another computer was writing to the sync folder as this one: this computer "
                           f"is now device {result.new_device_id}")
        found = result.to_json()
        if {k: v for k, v in last.items() if k != "at"} != found or result.written or result.merged:
            sharing.write_state(conn, LAST, {"at": clock.now().isoformat(), **found})


def status(store: Store, device_name: str) -> dict[str, Any]:
    """Devices, when each was last heard from, what is pending, unusable files and why (docs/cli.md)."""
    folder = configured_folder(store)
    with store.transaction() as conn:
        me = device(conn, device_name)
        last = sharing.read_state(conn, LAST) or {}
        peers = {key[len(IN):]: sharing.read_state(conn, key) for key in sharing.state_keys(conn, IN)}
    devices = [
        {"id": peer, "label": state.get("label", peer), "last_heard_from": state.get("heard"),
         "files_merged": len(state.get("applied", {})), "records_merged": state.get("records", 0)}
        for peer, state in sorted(peers.items())
    ]
    reachable = folder is not None and folder.is_dir()
    problem = last.get("problem")
    if folder is not None and not reachable:
        problem = f"the sync folder {folder} is not reachable (unplugged or unmounted?)"
    return {
        "folder": str(folder) if folder else None,
        "reachable": reachable,
        "device": {"id": me.id, "label": me.label},
        "last_change": last.get("at"),
        "problem": problem,
        "pending_out": pending_out(store, device_name) if folder else 0,
        "devices": devices,
        "pending": last.get("pending", []),
        "unusable": last.get("unusable", []),
    }
