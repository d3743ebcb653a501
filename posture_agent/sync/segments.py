"""The files in the shared folder: segments (a batch of records, written once) and each device's
manifest, written atomically (temporary file, fsync, rename) so that a reader never sees half of a
file this code wrote; what a sync service half-wrote fails its checksum and waits for the next round.

A segment is JSON lines: a header line {"format", "schema", "device_id", "seq", "records",
"sha256"} (the checksum of every byte after the header line), then one {"t": table, "r": row} a line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
"""The layout of these files; a device that finds a higher one keeps the file for later."""

SUBFOLDER = "posture-agent"
MANIFEST = "manifest.json"
SEGMENT = re.compile(r"^seg-(\d{6,})(.*)\.jsonl$")
"""A segment, or a copy of one under another name (a conflict copy, "seg-000001 (1).jsonl"):
segments verify themselves and merge by UUID, so a copy is read like the original."""


class BadFile(Exception):
    """A file that cannot be used as it is (half-written, damaged, not ours); the reason is the message."""


class NewerFile(BadFile):
    """Written by a newer posture-agent: kept, and used once this computer is updated."""


@dataclass(frozen=True)
class Segment:
    device_id: str
    seq: int
    schema: str
    format: int
    records: list[tuple[str, dict[str, Any]]]
    sha256: str


def device_dir(folder: Path, device_id: str) -> Path:
    return folder / SUBFOLDER / device_id


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


def read_header(path: Path) -> dict[str, Any]:
    """The header line alone (cheap: the rest of the file is not read)."""
    with path.open("rb") as f:
        line = f.readline(4096)
    return _header(line)


def header_of(data: bytes) -> dict[str, Any]:
    """The header of a segment held in memory (one this device just encoded)."""
    return _header(data.partition(b"\n")[0])


def _header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        raise BadFile("not a segment (no readable header: half-written, or another program's file)") from None
    if not isinstance(header, dict) or not {"format", "schema", "device_id", "seq", "sha256"} <= header.keys():
        raise BadFile("not a segment (its header lacks format, schema, device_id, seq or sha256)")
    return header


def decode(path: Path) -> Segment:
    """Read and verify a whole segment; BadFile says why it cannot be used (yet)."""
    data = path.read_bytes()
    line, _, body = data.partition(b"\n")
    header = _header(line)
    if int(header["format"]) > FORMAT:
        raise NewerFile(f"written in file format {header['format']} by a newer posture-agent")
    digest = hashlib.sha256(body).hexdigest()
    if digest != header["sha256"]:
        raise BadFile(f"checksum mismatch (sha256 {digest[:12]}…, header says {str(header['sha256'])[:12]}…): "
                      "half-written or damaged; tried again next round")
    records = []
    try:
        for raw in body.splitlines():
            item = json.loads(raw)
            records.append((str(item["t"]), dict(item["r"])))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadFile(f"a record cannot be read ({exc})") from None
    if len(records) != int(header.get("records", len(records))):
        raise BadFile(f"{len(records)} records where the header says {header['records']}")
    return Segment(str(header["device_id"]), int(header["seq"]), str(header["schema"]), int(header["format"]),
                   records, digest)


def write_atomic(path: Path, data: bytes) -> None:
    """Temporary file beside the target, fsync, rename, fsync the folder: all of the file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # Windows cannot open a folder to fsync it
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A device's manifest, or None when absent or not (yet) readable: segments verify themselves,
    so a manifest is an index and a summary, never needed to merge."""
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_manifest(
    folder: Path, device_id: str, label: str, schema: str, written_at: str, segments: dict[str, str],
) -> None:
    """This device's manifest: who it is, its schema, and every segment it wrote with its checksum."""
    manifest = {
        "format": FORMAT, "device_id": device_id, "device": label, "schema": schema, "written_at": written_at,
        "segments": [{"name": name, "sha256": sha} for name, sha in sorted(segments.items())],
    }
    data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    write_atomic(device_dir(folder, device_id) / MANIFEST, data)
