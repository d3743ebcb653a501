"""One sync round, the setup and the status: write this device's new records as a segment, then
merge the segments of every other device found in the folder.

State lives in the database's `meta` table (keys `sync.*`): the folder, this device's export
cursor (rowids per table) and the segments it wrote, and per other device the segments applied.
A folder that is unplugged or read-only never stops the agent: the round says why, once.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import socket
import stat
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from posture_agent.clock import Clock
from posture_agent.errors import UserError
from posture_agent.filenames import printable
from posture_agent.store import sharing
from posture_agent.store.db import Store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.sync import segments as sg
from posture_agent.sync.confined import Folder, not_a_file
from posture_agent.sync.merge import NOTES_KEPT, RowNote, apply_all, merge_again_at, schema_is_newer

log = logging.getLogger(__name__)

FOLDER, OUT, LAST, IN = sharing.SYNC_FOLDER, "sync.out", "sync.last", "sync.in."
FOLDER_ID = "sync.folder_id"
"""Which folder this device last wrote to: its st_dev and inode, and the token of this device's
marker file in it (`segments.MARKER`), so that a folder emptied, recreated or unmounted is noticed."""
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

    def __post_init__(self) -> None:  # names come from another computer: one line each, escaped
        self.device, self.file = printable(self.device)[:80], printable(self.file)[:120]

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
    """Files that cannot be used as they are (checksum, not a segment); retried when they change."""
    rows: list[dict[str, str]] = field(default_factory=list)
    """Rows refused alone in the files merged this round, and records that differed from the ones here."""
    rewritten: str | None = None
    """Why this device's records were written to the folder again (emptied, recreated, unmounted)."""
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
            "rows": self.rows, "rewritten": self.rewritten,
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
            for key in (OUT, LAST, FOLDER_ID, *sharing.state_keys(conn, IN)):
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


def _own_folder(folder: Path, device_id: str, create: bool = False) -> Folder | None:
    """This device's own folder, opened without following a symlink (Refused when one stands
    there); None when it does not exist and `create` is False."""
    try:
        return Folder.open(folder, sg.SUBFOLDER, device_id, create=create)
    except FileNotFoundError:
        if create:
            raise
        return None


def _own_files(own: Folder) -> list[str]:
    return [name for name, info in own.entries()
            if sg.SEGMENT.match(name) and not sg.is_temporary(name) and stat.S_ISREG(info.st_mode)]


def _check_folder(store: Store, folder: Path, clock: Clock, me: Device, saved: Any, own: Folder | None,
                  result: Round) -> bool:
    """Notice a folder that is not the one this device wrote to (emptied, recreated, another disk
    mounted there, or the bare mount point of one that is not): this device's records are then
    written to it again, and every other device's files read again (True). The first round only
    notes which folder it is. `saved` is the note of the last round, `own` this device's folder."""
    info = os.stat(folder)
    here = [info.st_dev, info.st_ino]
    token = _marker(own) if own is not None else None
    if saved and saved.get("at") == here and saved.get("token") == token and token:
        return False
    with store.transaction() as conn:
        sharing.take_write_lock(conn)
        saved = sharing.read_state(conn, FOLDER_ID)
        why = None
        if saved and saved.get("at") != here:
            why = ("the sync folder is not the one this computer last wrote to "
                   "(recreated, or a disk mounted or unmounted there)")
        elif saved and saved.get("token") != token:
            why = "this computer's files are gone from the sync folder (emptied or recreated)"
        new_token = secrets.token_hex(16)
        with Folder.open(folder, sg.SUBFOLDER, me.id, create=True) as mine:
            mine.write_atomic(sg.MARKER, json.dumps({"device_id": me.id, "token": new_token}).encode())
        state = {"at": here, "token": new_token, "rewritten": saved.get("rewritten") if saved else None}
        if why:
            out = _out_state(conn)
            out["cursor"], out["written"] = {}, {}
            sharing.write_state(conn, OUT, out)
            for key in sharing.state_keys(conn, IN):
                sharing.delete_state(conn, key)
            state["rewritten"] = {"when": clock.now().isoformat(), "why": why}
            result.rewritten = why
            result.news = f"{why}: this computer's records are written to it again"
            log.warning("sync: %s; writing this computer's records again", why)
        sharing.write_state(conn, FOLDER_ID, state)
    return why is not None


def _marker(own: Folder) -> str | None:
    try:
        f, _ = own.open_file(sg.MARKER, 4096)
        with f:
            value = json.loads(f.read(4097))
    except (OSError, ValueError):
        return None
    token = value.get("token") if isinstance(value, dict) else None
    return token if isinstance(token, str) else None


def _check_identity(store: Store, folder: Path, clock: Clock, device_name: str, result: Round) -> None:
    """Files under this device's id that this database did not write mean a second computer uses
    the same id (a home restored from a backup onto a new computer): this one takes a new id.
    A file whose records are all here is this device's own, left by a round cut short."""
    with store.transaction() as conn:
        me = device(conn, device_name)
        state = _out_state(conn)
        saved = sharing.read_state(conn, FOLDER_ID)
    foreign = False
    own = _own_folder(folder, me.id)
    if _check_folder(store, folder, clock, me, saved, own, result) or own is None:
        if own is not None:
            own.close()
        return  # written again from scratch: every file of its own there is looked at next round
    with own:
        files = _own_files(own)
        recent = set(files[-RECHECKED:])
        for name in files:
            known = state["written"].get(name)
            if known and (name not in recent or _same_file(own, name, known)):
                continue  # older files: another writer would have collided with the newest ones
            try:
                segment = sg.scan(own, name)
                ids_by_table: dict[str, set[str]] = {}
                for table, row in segment.rows():
                    ids_by_table.setdefault(table, set()).add(str(row.get("id")))
            except sg.BadFile:
                continue  # half-written: looked at again next round
            with store.transaction() as conn:
                have = all(
                    ids <= sharing.ids_of(conn, sharing.SHARED[table], ids)
                    for table, ids in ids_by_table.items() if table in sharing.SHARED
                )
                if have:
                    state["written"][name] = segment.sha256
                    state["seq"] = max(state["seq"], segment.seq)
                    sharing.write_state(conn, OUT, state)
                else:
                    foreign = True
    if foreign:
        _take_new_id(store, me, result)


def _same_file(own: Folder, name: str, sha256: str) -> bool:
    """The file this device wrote under that name (its header line alone is read)."""
    try:
        return sg.read_header(own, name).get("sha256") == sha256
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
        cursor = state["cursor"]
        tops = {name: sharing.last_rowid(conn, table) for name, table in sharing.SHARED.items()}
        if state.get("carry_ids") or any(top != int(cursor.get(name, 0)) for name, top in tops.items()):
            _, cursor = _collect(conn, cursor, [me.id, *state.get("carry_ids", [])])  # no new row: nothing to ask
    with _own_folder(folder, me.id, create=True) as own:  # type: ignore[union-attr]
        wrote_any = not own.exists(sg.MANIFEST)
        if cursor == state["cursor"] and not state.get("carry_ids") and not wrote_any:
            return
        own.remove_dead_temps()  # a round killed while writing left them, and its records are still due
        own.remove_planted()
        _write_segments(store, own, clock, me, result, wrote_any)


def _write_segments(store: Store, own: Folder, clock: Clock, me: Device, result: Round, wrote_any: bool) -> None:
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
            seq = max(state["seq"], _highest(own)) + 1
            data = sg.encode(me.id, seq, SCHEMA_HEAD, records)
            name = sg.segment_name(seq)
            own.write_atomic(name, data)
            state["seq"], state["cursor"] = seq, cursor
            state["written"][name] = sg.header_of(data)["sha256"]
            sharing.write_state(conn, OUT, state)
        result.written += len(records)
        wrote_any = True
    if wrote_any:
        state = _compact(store, own, me) or state
        sg.write_manifest(own, me.id, me.label, SCHEMA_HEAD, clock.now().isoformat(), state["written"])


def _highest(own: Folder) -> int:
    return max((int(m.group(1)) for name, info in own.entries()
                if (m := sg.SEGMENT.match(name)) and stat.S_ISREG(info.st_mode)), default=0)


def _compact(store: Store, own: Folder, me: Device) -> dict[str, Any] | None:
    """Pack this device's oldest small segments into one (up to SEGMENT_RECORDS records) once it
    has COMPACT_AT of them, then delete them; the new out state, or None when nothing was packed."""
    with store.transaction() as conn:
        state = _out_state(conn)
        names = sorted(n for n in state["written"] if own.exists(n))
    if len(names) < COMPACT_AT:
        return None
    picked: list[str] = []
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for name in names:
        try:
            segment = sg.scan(own, name)
            if segment.count >= SEGMENT_RECORDS // 2:
                continue  # a big one already
            if len(records) + segment.count > SEGMENT_RECORDS:
                break
            rows = {(table, str(row.get("id"))): row for table, row in segment.rows()}
        except sg.BadFile:
            continue
        picked.append(name)
        records.update(rows)
    if len(picked) < 2:
        return None
    with store.transaction() as conn:
        sharing.take_write_lock(conn)
        state = _out_state(conn)
        if not all(name in state["written"] for name in picked):
            return None  # another process packed them a moment ago
        seq = max(state["seq"], _highest(own)) + 1
        data = sg.encode(me.id, seq, SCHEMA_HEAD, [(table, row) for (table, _), row in records.items()])
        own.write_atomic(sg.segment_name(seq), data)
        state["seq"] = seq
        state["written"][sg.segment_name(seq)] = sg.header_of(data)["sha256"]
        for name in picked:
            del state["written"][name]
        sharing.write_state(conn, OUT, state)
    for name in picked:
        own.unlink(name)
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


def _merge_others(store: Store, folder: Path, clock: Clock, device_name: str, result: Round) -> None:
    try:
        root = Folder.open(folder, sg.SUBFOLDER)
    except FileNotFoundError:
        return
    with store.transaction() as conn:
        me = device(conn, device_name)
        carried = _out_state(conn).get("carry_ids", [])
    todo: list[tuple[str, sg.Segment]] = []
    labels: dict[str, str] = {}
    with root:
        for name, info in root.entries():
            if name == me.id or sg.is_temporary(name):
                continue
            if not stat.S_ISDIR(info.st_mode) or not sg.DEVICE_ID.fullmatch(name):
                why = (not_a_file(info.st_mode) if stat.S_ISLNK(info.st_mode) else
                       "not a device folder (a device's folder is named by its id)")
                result.unusable.append(FileNote(name, "", why))
                continue
            try:
                with Folder.open(folder, sg.SUBFOLDER, name) as peer:
                    todo += _peer_files(store, peer, name, labels, result, clock.now())
            except OSError as exc:
                result.unusable.append(FileNote(name, "", f"cannot be read: {exc.strerror or exc}"))
        now = clock.now()

        def on_applied(conn: Connection, key: str, segment: sg.Segment, new: int, notes: list[RowNote]) -> None:
            peer, name = key.split("/", 1)
            state = _in_state(conn, peer)
            state["applied"][name] = segment.sha256
            state["records"] += new
            state["heard"] = now.isoformat()
            state["label"] = labels.get(peer, peer)
            state["rows"].pop(name, None)
            state["later"].pop(name, None)
            if notes:  # at most NOTES_KEPT and one that says how many more
                state["rows"][name] = {"notes": [n.to_json() for n in notes]}
            again = merge_again_at(notes)
            if again:
                state["later"][name] = again  # its rows dated in the future: merged when their time comes
            sharing.write_state(conn, IN + peer, state)

        applied = apply_all(store, todo, on_applied, now, [me.id, *carried])
    result.merged += applied.new_records
    for key, why in applied.waiting.items():
        peer_id, name = key.split("/", 1)
        result.pending.append(FileNote(peer_id, name, why))
    for key, why in applied.refused.items():
        peer_id, name = key.split("/", 1)
        result.unusable.append(FileNote(peer_id, name, why))
    result.unusable = _capped(result.unusable)
    for key, notes in applied.rows.items():
        peer_id, name = key.split("/", 1)
        result.rows += [{"device": peer_id, "file": printable(name)[:120], **n.to_json()} for n in notes]


def _capped(notes: list[FileNote]) -> list[FileNote]:
    """At most NOTES_KEPT notes a device and five times that in all, then how many more: a folder
    filled with junk must not fill the database's sync state and `sync status`."""
    kept: list[FileNote] = []
    per: dict[str, int] = {}
    for note in notes:
        per[note.device] = per.get(note.device, 0) + 1
        if per[note.device] <= NOTES_KEPT and len(kept) < 5 * NOTES_KEPT:
            kept.append(note)
    more = len(notes) - len(kept)
    if more:
        kept.append(FileNote("", "", f"and {more} more unusable file(s) or folder(s)"))
    return kept


def _peer_files(store: Store, peer: Folder, peer_id: str, labels: dict[str, str],
                result: Round, now: datetime) -> list[tuple[str, sg.Segment]]:
    """The segments of one other device that are new and usable; notes for the rest. A file found
    unusable is remembered by (size, mtime, inode) and not read again until it changes."""
    manifest = sg.read_manifest(peer)
    listed: dict[str, str] = manifest.get("segments", {})
    labels[peer_id] = manifest.get("device") or peer_id
    with store.transaction() as conn:
        state = _in_state(conn, peer_id)
    entries = peer.entries()
    _forget_gone(store, peer_id, state, {name for name, _ in entries})
    bad: dict[str, list[Any]] = dict(state["bad"])
    todo = []
    for name, info in entries:
        if sg.is_temporary(name) or name == sg.MANIFEST:
            continue
        if name.startswith("manifest") and name.endswith(".json"):
            continue  # a conflict copy of the index: the segments themselves are what count
        if not sg.SEGMENT.match(name):
            result.unusable.append(FileNote(peer_id, name, "not a posture-agent file"))
            continue
        if name in state["applied"] and not (name in state["later"] and _due(state["later"][name], now)):
            continue
        if not stat.S_ISREG(info.st_mode):
            result.unusable.append(FileNote(peer_id, name, not_a_file(info.st_mode)))
            continue
        seen = [info.st_size, info.st_mtime_ns, info.st_ino]
        if name in bad and bad[name][:3] == seen:
            result.unusable.append(FileNote(peer_id, name, f"{bad[name][3]} (not read again until it changes)"))
            continue
        note = _check(peer, name, peer_id, listed)
        if isinstance(note, str):
            result.unusable.append(FileNote(peer_id, name, note))
            bad[name] = [*seen, note]
        elif isinstance(note, FileNote):
            result.pending.append(note)
        else:
            bad.pop(name, None)
            todo.append((f"{peer_id}/{name}", note))
    if bad != state["bad"]:
        with store.transaction() as conn:
            sharing.take_write_lock(conn)
            fresh = _in_state(conn, peer_id)
            fresh["bad"] = bad
            sharing.write_state(conn, IN + peer_id, fresh)
    return todo


def _due(when: object, now: datetime) -> bool:
    try:
        return isinstance(when, str) and datetime.fromisoformat(when) <= now
    except ValueError:
        return True


def _in_state(conn: Connection, device_id: str) -> dict[str, Any]:
    state = sharing.read_state(conn, IN + device_id) or {}
    state.setdefault("applied", {})
    state.setdefault("records", 0)
    state.setdefault("bad", {})
    state.setdefault("rows", {})
    state.setdefault("later", {})
    return state


def _forget_gone(store: Store, peer: str, state: dict[str, Any], present: set[str]) -> None:
    """Drop the notes of files their device has packed into a new one and deleted (the note
    list would otherwise grow with every file ever seen)."""
    if not any(name not in present for part in ("applied", "bad", "rows", "later") for name in state[part]):
        return
    with store.transaction() as conn:
        sharing.take_write_lock(conn)
        fresh = _in_state(conn, peer)
        for part in ("applied", "bad", "rows", "later"):
            fresh[part] = {name: value for name, value in fresh[part].items() if name in present}
        sharing.write_state(conn, IN + peer, fresh)
        state.update(fresh)


def _check(peer: Folder, name: str, peer_id: str, listed: dict[str, str]) -> sg.Segment | FileNote | str:
    """A usable segment, a note that it is kept for later, or why it cannot be used."""
    try:
        header = sg.read_header(peer, name)  # a newer version's file is kept without reading it whole
        if header["device_id"] == peer_id and header["format"] <= sg.FORMAT and schema_is_newer(header["schema"],
                                                                                                  SCHEMA_HEAD):
            return FileNote(peer_id, name, f"written by a newer posture-agent (schema {header['schema']}, this one "
                                           f"knows {SCHEMA_HEAD}); kept until this computer is updated")
        segment = sg.scan(peer, name)
    except OSError as exc:  # a read error (a disk, a network mount): this file only, the next round again
        return FileNote(peer_id, name, f"cannot be read now ({exc.strerror or exc}); tried again next round")
    except sg.NewerFile as exc:
        return FileNote(peer_id, name, f"{exc}; kept until this computer's posture-agent is updated")
    except sg.BadFile as exc:
        return str(exc)
    if segment.device_id != peer_id:
        return f"written by device {segment.device_id}, found in the folder of {peer_id}"
    if schema_is_newer(segment.schema, SCHEMA_HEAD):
        return FileNote(peer_id, name, f"written by a newer posture-agent (schema {segment.schema}, this one "
                                       f"knows {SCHEMA_HEAD}); kept until this computer is updated")
    expected = listed.get(name)
    if expected and expected != segment.sha256:
        return "does not match the checksum in its device's manifest: damaged in transit"
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
        moved = sharing.read_state(conn, FOLDER_ID) or {}
    devices = [
        {"id": peer, "label": sg.label_of(str(state.get("label", peer))), "last_heard_from": state.get("heard"),
         "files_merged": len(state.get("applied", {})), "records_merged": state.get("records", 0)}
        for peer, state in sorted(peers.items())
    ]
    rows = [
        {"device": peer, "file": printable(name)[:120], **note}
        for peer, state in sorted(peers.items())
        for name, kept in sorted(state.get("rows", {}).items())
        for note in kept.get("notes", [])
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
        "rows": rows,
        "rewritten": moved.get("rewritten"),
    }
