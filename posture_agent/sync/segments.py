"""The files in the shared folder: segments (a batch of records, written once) and each device's
manifest, written atomically (sync/confined.py) so that a reader never sees half of a file this code
wrote; what a sync service half-wrote fails its checksum and waits for the next round.

A segment is JSON lines: a header line {"format", "schema", "device_id", "seq", "records",
"sha256"} (the checksum of every byte after the header line), then one {"t": table, "r": row} a line.
Everything read here is another computer's: sizes are capped, every header field's type and range is
checked, and a segment is streamed (checked in one pass, merged in a second), never held whole.
"""

from __future__ import annotations

import hashlib
import json
import re
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from posture_agent.domain.validation import UUID
from posture_agent.filenames import printable
from posture_agent.sync.confined import Folder

FORMAT = 1
"""The layout of these files; a device that finds a higher one keeps the file for later."""

SUBFOLDER = "posture-agent"
MANIFEST = "manifest.json"
MARKER = ".folder-id"
"""This device's note in its own folder of which folder it wrote to (sync/engine.py `_check_folder`)."""
SEGMENT = re.compile(r"^seg-(\d{6,9})(.*)\.jsonl$")
"""A segment, or a copy of one under another name (a conflict copy, "seg-000001 (1).jsonl"):
segments verify themselves and merge by UUID, so a copy is read like the original."""
DEVICE_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
"""What a device folder may be called (this version's ids are 12 hex digits)."""
MAX_SEGMENT_BYTES = 64 * 2**20
"""The largest segment read: 10,000 records (what a device writes at most in one file) take 2-3 MB."""
MAX_MANIFEST_BYTES = 2**20
MAX_HEADER_BYTES = 4096
MAX_RECORD_BYTES = 2**20
"""The longest line of a segment (one record takes well under 5 KB)."""
MAX_SEQ = 10**9 - 1


class BadFile(Exception):
    """A file that cannot be used as it is (half-written, damaged, not ours); the reason is the message."""


class NewerFile(BadFile):
    """Written by a newer posture-agent: kept, and used once this computer is updated."""


Opener = Callable[[], BinaryIO]


@dataclass(frozen=True)
class Segment:
    """A segment whose header and checksum were checked (`scan`), read again record by record when
    merged (`records`), so that a 50 MB file never sits in memory."""

    device_id: str
    seq: int
    schema: str
    format: int
    count: int
    sha256: str
    opener: Opener = field(repr=False, compare=False)
    runs: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    """Run id -> its activity file's fingerprint, for the runs in this file."""
    run_refs: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """The run ids its soreness reports point at."""

    def records(self) -> Iterator[tuple[int, Any]]:
        """(line number, the line's JSON or None when it is not JSON), read again from the file;
        BadFile at the end when the file is no longer the one that was checked."""
        with self.opener() as f:
            _header(f.readline(MAX_HEADER_BYTES + 1))
            digest = hashlib.sha256()
            for number, line in enumerate(_lines(f, digest), start=2):
                yield number, _json(line)
            if digest.hexdigest() != self.sha256:
                raise BadFile("changed while it was merged; tried again next round")

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The (table, row) pairs that have that shape (this device's own files, already checked)."""
        for _, item in self.records():
            if isinstance(item, dict) and isinstance(item.get("t"), str) and isinstance(item.get("r"), dict):
                yield item["t"], item["r"]


def _lines(f: BinaryIO, digest: Any) -> Iterator[bytes]:
    while True:
        line = f.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_RECORD_BYTES:
            raise BadFile(f"a line longer than {MAX_RECORD_BYTES // 2**20} MB: not a segment")
        digest.update(line)
        if line.strip():
            yield line
        else:
            yield b""


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def segment_name(seq: int) -> str:
    return f"seg-{seq:06d}.jsonl"


def is_temporary(name: str) -> bool:
    """A file a sync service or this code is still writing (or a hidden helper file)."""
    return name.startswith((".", "~")) or name.endswith((".tmp", ".part", ".partial"))


def encode(device_id: str, seq: int, schema: str, records: list[tuple[str, dict[str, Any]]]) -> bytes:
    body = b"".join(
        json.dumps({"t": table, "r": row}, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        for table, row in records
    )
    header = {
        "format": FORMAT, "schema": schema, "device_id": device_id, "seq": seq, "records": len(records),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return json.dumps(header, sort_keys=True).encode() + b"\n" + body


def header_of(data: bytes) -> dict[str, Any]:
    """The header of a segment held in memory (one this device just encoded)."""
    return _header(data.partition(b"\n")[0] + b"\n")


def read_header(folder: Folder, name: str) -> dict[str, Any]:
    """The header line alone (cheap: the rest of the file is not read)."""
    f, _ = _open(folder, name, MAX_SEGMENT_BYTES)
    with f:
        return _header(f.readline(MAX_HEADER_BYTES + 1))


def _open(folder: Folder, name: str, limit: int) -> tuple[BinaryIO, Any]:
    try:
        return folder.open_file(name, limit)
    except OSError as exc:
        raise BadFile(f"cannot be read: {exc.strerror or exc}") from None


def _int(header: dict[str, Any], key: str, low: int, high: int) -> int:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadFile(f"not a segment (header {key} {_shown(value)} is not a whole number "
                      f"from {low} to {high})")
    return value


def _shown(value: object) -> str:
    return printable(reprlib.repr(value))[:40]


def _header(line: bytes) -> dict[str, Any]:
    """The header's fields, each of the type and range this code writes, else BadFile."""
    if len(line) > MAX_HEADER_BYTES or not line.endswith(b"\n"):
        raise BadFile("not a segment (no header line: half-written, or another program's file)")
    header = _json(line)
    if not isinstance(header, dict) or not {"format", "schema", "device_id", "seq", "sha256"} <= header.keys():
        raise BadFile("not a segment (its header lacks format, schema, device_id, seq or sha256)")
    _int(header, "format", 1, 10**6)
    _int(header, "seq", 1, MAX_SEQ)
    if "records" in header:
        _int(header, "records", 0, MAX_SEGMENT_BYTES)
    schema, device_id, sha = header.get("schema"), header.get("device_id"), header.get("sha256")
    if not isinstance(schema, str) or not re.fullmatch(r"[0-9]{1,8}", schema):
        raise BadFile(f"not a segment (header schema {_shown(schema)} is not a revision number)")
    if not isinstance(device_id, str) or not DEVICE_ID.fullmatch(device_id):
        raise BadFile(f"not a segment (header device_id {_shown(device_id)} is not a device id)")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise BadFile("not a segment (header sha256 is not a SHA-256 checksum)")
    return header


def scan(folder: Folder, name: str) -> Segment:
    """Check a segment (header, size, checksum, record count) in one streamed pass, noting its runs
    and the runs its soreness reports point at; BadFile says why it cannot be used (yet)."""
    def opener() -> BinaryIO:
        return _open(folder, name, MAX_SEGMENT_BYTES)[0]

    with opener() as f:
        header = _header(f.readline(MAX_HEADER_BYTES + 1))
        if header["format"] > FORMAT:
            raise NewerFile(f"written in file format {header['format']} by a newer posture-agent")
        digest = hashlib.sha256()
        count = 0
        runs: dict[str, str | None] = {}
        refs: set[str] = set()
        for line in _lines(f, digest):
            count += 1
            if b'runs"' not in line and b'soreness_reports"' not in line:
                continue  # neither a run nor a report (the only records the merge must know first)
            item = _json(line)
            row = item.get("r") if isinstance(item, dict) else None
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            if item.get("t") == "runs":
                fingerprint = row.get("fingerprint")
                runs[row["id"]] = fingerprint if isinstance(fingerprint, str) else None
            elif item.get("t") == "soreness_reports" and UUID.fullmatch(ref := str(row.get("run_id"))):
                refs.add(ref)  # a run id that is not one never arrives: its row is refused, not waited on
    sha = digest.hexdigest()
    if sha != header["sha256"]:
        raise BadFile(f"checksum mismatch (sha256 {sha[:12]}…, header says {header['sha256'][:12]}…): "
                      "half-written or damaged")
    if count != header.get("records", count):
        raise BadFile(f"{count} records where the header says {header['records']}")
    return Segment(header["device_id"], header["seq"], header["schema"], header["format"], count, sha,
                   opener, runs, frozenset(refs))


def read_manifest(folder: Folder) -> dict[str, Any]:
    """A device's manifest as {"device": label, "segments": {name: sha256}}, empty when absent or
    not (yet) readable: segments verify themselves, so a manifest is an index and a summary, never
    needed to merge. Only fields of the right type are taken."""
    try:
        f, _ = folder.open_file(MANIFEST, MAX_MANIFEST_BYTES)
        with f:
            value = _json(f.read(MAX_MANIFEST_BYTES + 1))
    except OSError:
        return {}
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {"segments": {}}
    label = value.get("device")
    if isinstance(label, str) and label:
        out["device"] = label_of(label)
    segments = value.get("segments")
    for item in segments if isinstance(segments, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("sha256"), str):
            out["segments"][item["name"]] = item["sha256"]
    return out


def label_of(text: str) -> str:
    """Another computer's label as one line of at most 80 characters (no newline, no escape codes)."""
    shown = printable(text)
    return shown if len(shown) <= 80 else shown[:79] + "…"


def write_manifest(
    folder: Folder, device_id: str, label: str, schema: str, written_at: str, segments: dict[str, str],
) -> None:
    """This device's manifest: who it is, its schema, and every segment it wrote with its checksum."""
    manifest = {
        "format": FORMAT, "device_id": device_id, "device": label, "schema": schema, "written_at": written_at,
        "segments": [{"name": name, "sha256": sha} for name, sha in sorted(segments.items())],
    }
    data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    folder.write_atomic(MANIFEST, data)
