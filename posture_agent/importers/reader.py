"""From a path to parsed activities: gunzips `.gz`, picks the parser by the file's own bytes (then
by its name), and bounds what is read so a hostile or broken file cannot exhaust memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

from posture_agent.importers.activity import ParsedFile, ParseError
from posture_agent.inputs import NotARegularFile, read_bounded

MAX_BYTES = 64 * 1024 * 1024
"""Larger than any activity export (a day-long FIT file is a few MB); also caps a gzip's output."""

EXTENSIONS = (".fit", ".gpx", ".tcx")
SUFFIXES = EXTENSIONS + tuple(ext + ".gz" for ext in EXTENSIONS)


def is_activity_file(path: Path) -> bool:
    """Named like an export we read (case-insensitive, with or without .gz)."""
    return path.name.lower().endswith(SUFFIXES)


@dataclass(frozen=True)
class FileData:
    """The file's (uncompressed) bytes and a digest of them, which identifies the run twice imported."""

    data: bytes
    sha256: str
    compressed: bool


def load(path: Path) -> FileData:
    try:
        raw = read_bounded(path, MAX_BYTES)
    except NotARegularFile as exc:
        raise ParseError(str(exc)) from None
    except FileNotFoundError:
        raise ParseError("no such file") from None
    except IsADirectoryError:
        raise ParseError("is a folder, not a file") from None
    except OSError as exc:
        raise ParseError(f"cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise ParseError(f"larger than {MAX_BYTES // 2**20} MB: not an activity export")
    if not raw:
        raise ParseError("the file is empty")
    compressed = raw[:2] == b"\x1f\x8b"
    if compressed:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                data = gz.read(MAX_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError(f"damaged gzip data ({exc})") from None
        if len(data) > MAX_BYTES:
            raise ParseError(f"uncompresses to more than {MAX_BYTES // 2**20} MB: not an activity export")
        if not data:
            raise ParseError("the compressed file is empty")
    else:
        data = raw
    return FileData(data, hashlib.sha256(data).hexdigest(), compressed)


MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or a KMZ, DOCX…)"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"), (b"MZ", "a Windows program"),
)
"""The first bytes of files people mistake for (or rename to) an activity export."""


def looks_like(data: bytes) -> str | None:
    """What the bytes are, when they are a kind of file that is surely not an activity export."""
    for magic, kind in MAGIC:
        if data.startswith(magic):
            return kind
    if data[4:8] == b"ftyp":
        return "a video or HEIC photo"
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return "a WebP image" if data[8:12] == b"WEBP" else "a video or sound file"
    head = data[:4096].lstrip().removeprefix(b"\xef\xbb\xbf").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML; a download that went wrong?)"
    if head.startswith(b"<") and b"<kml" in head:
        return "a KML file (export the activity as GPX, TCX or FIT)"
    return None


def sniff(data: bytes, name: str) -> str:
    """"fit", "gpx" or "tcx": by the bytes first (a FIT header says ".FIT"), then by the name; a file
    whose bytes are plainly something else (a PNG renamed .gpx) is named for what it is."""
    if len(data) >= 12 and data[8:12] == b".FIT":
        return "fit"
    head = data[:4096].lstrip()
    if head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf"):
        if b"<gpx" in head:
            return "gpx"
        if b"TrainingCenterDatabase" in head:
            return "tcx"
    lowered = name.lower().removesuffix(".gz")
    named = next((ext[1:] for ext in EXTENSIONS if lowered.endswith(ext)), None)
    kind = looks_like(data)
    if kind is not None:
        raise ParseError(f"looks like {kind}, not {named.upper() if named else 'a GPX, TCX or FIT file'}")
    if named is not None:
        return named
    raise ParseError("not a GPX, TCX or FIT file (neither its content nor its name says so)")


def parse_bytes(data: bytes, name: str) -> ParsedFile:
    kind = sniff(data, name)
    if kind == "fit":
        from posture_agent.importers.fit import parse_fit

        return parse_fit(data)
    if kind == "gpx":
        from posture_agent.importers.gpx import parse_gpx

        return parse_gpx(data)
    from posture_agent.importers.tcx import parse_tcx

    return parse_tcx(data)


def read_file(path: Path) -> tuple[FileData, ParsedFile]:
    """The file's bytes and its activities; ParseError says what is wrong (without the path)."""
    content = load(path)
    return content, parse_bytes(content.data, path.name)
