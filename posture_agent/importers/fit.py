"""FIT files (Garmin, Stryd, Strava, Wahoo…) through fitdecode, with the file and header checksums
checked: a bad checksum is refused, never accepted with a warning (fitdecode's default).

A run is read from the file's own summary, its `session` messages (one per leg of a multisport
file), not recomputed from the track. That is also why the track's `record` messages, nearly all of
a file's bytes, are read through the checksum but not decoded field by field: fitdecode's per-field
decoding is pure Python and would take seconds on a long multisport file.
"""

from __future__ import annotations

import functools
import io
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import fitdecode
from fitdecode import records as fit_records

from posture_agent.importers.activity import Activity, ParsedFile, ParseError, check_time, normalise_sport

log = logging.getLogger(__name__)

SUMMARY_MESSAGES = frozenset({
    0,    # file_id
    12,   # sport (the name the user gave the profile, e.g. "MTB")
    18,   # session
    34,   # activity (local time offset)
    206,  # field_description (developer fields must stay defined)
    207,  # developer_data_id
})
"""Global message numbers decoded in full; every other message is read and checksummed only."""

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC_TABLE = _crc_table()


def fit_crc(data: bytes, crc: int = 0) -> int:
    """The FIT checksum (CRC-16/ARC: polynomial 0x8005 reflected, start 0), as fitdecode computes it."""
    table = CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


class _SummaryReader(fitdecode.FitReader):  # type: ignore[misc]
    """fitdecode's reader, skipping the field decoding of messages the summary does not need.

    The bytes still go through `_read_bytes`, so framing, end-of-file and checksum errors are
    exactly fitdecode's. Tested against the stock reader on every real file.
    """

    check_crc: Any
    _crc: int

    def _read_data_message(self, header_chunk: bytes, record_header: Any) -> Any:
        def_mesg = getattr(self, "_local_mesg_defs", {}).get(record_header.local_mesg_num)
        if def_mesg is None or def_mesg.global_mesg_num in SUMMARY_MESSAGES:
            return super()._read_data_message(header_chunk, record_header)
        size = sum(field_def.size for field_def in def_mesg.all_field_defs)
        if size:
            # fitdecode's checksum works a nibble at a time; the same CRC a byte at a time is several
            # times faster, and these bytes are nearly all of the file (tested equal to fitdecode's).
            check, self.check_crc = self.check_crc, fitdecode.CrcCheck.DISABLED
            try:
                chunk = self._read_bytes(size)
            finally:
                self.check_crc = check
            if check is not fitdecode.CrcCheck.DISABLED:
                self._crc = fit_crc(chunk, self._crc)
        return fit_records.FitDataMessage(
            record_header.is_developer_data, record_header.local_mesg_num, record_header.time_offset,
            def_mesg, [], None,
        )


@functools.cache
def _reader_class() -> Any:
    """The summary reader while fitdecode keeps the internals it hooks into, else the stock reader
    (slower, same results)."""
    hooks = ("_read_data_message", "_read_bytes", "_local_mesg_defs", "_crc")
    probe = fitdecode.FitReader(io.BytesIO(b""))
    return _SummaryReader if all(hasattr(probe, h) for h in hooks) else fitdecode.FitReader


def _describe(exc: Exception) -> str:
    """fitdecode's error in words a user can act on."""
    if isinstance(exc, fitdecode.FitCRCError):
        return f"checksum mismatch, the file is damaged ({exc})"
    if isinstance(exc, fitdecode.FitEOFError):
        return f"the file ends early, it is truncated ({exc})"
    if isinstance(exc, fitdecode.FitHeaderError):
        return f"not a valid FIT file header ({exc})"
    if isinstance(exc, fitdecode.FitParseError):
        return f"the FIT data is damaged ({exc})"
    return f"cannot be decoded as FIT ({exc.__class__.__name__}: {exc})"


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return FIT_EPOCH + timedelta(seconds=value)
    return None


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=float(value)) if isinstance(value, int | float) and value >= 0 else None


def parse_fit(data: bytes) -> ParsedFile:
    """The activities in a FIT file's session messages."""
    sessions: list[dict[str, Any]] = []
    sport_names: list[str] = []
    offset: timedelta | None = None
    damage: str | None = None
    try:
        with _reader_class()(
            io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.RAISE,
        ) as reader:
            for frame in reader:
                if frame.frame_type != fitdecode.FIT_FRAME_DATA or not frame.fields:
                    continue
                if frame.name == "session":
                    sessions.append({f.name: f.value for f in frame.fields})
                elif frame.name == "sport":
                    name = frame.get_value("name", fallback=None)
                    if isinstance(name, str) and name.strip():
                        sport_names.append(name.strip())
                elif frame.name == "activity":
                    offset = _local_offset(frame) or offset
    except fitdecode.FitCRCError as exc:
        raise ParseError(_describe(exc)) from None
    except (fitdecode.FitError, ValueError, KeyError, IndexError, TypeError, AssertionError) as exc:
        # A damaged track: the summary may still have been read whole before the damage.
        if not sessions or isinstance(exc, fitdecode.FitHeaderError):
            raise ParseError(_describe(exc)) from None
        damage = _describe(exc)
        log.info("FIT file damaged after its summary: %s", damage)
    if not sessions:
        raise ParseError("no session message: the file holds no activity summary")
    label_default = sport_names[0] if len(sport_names) == 1 and len(sessions) == 1 else None
    activities = tuple(
        _activity(s, leg, offset, label_default) for leg, s in enumerate(sessions)
    )
    return ParsedFile("fit", activities, damage=damage)


def _local_offset(frame: Any) -> timedelta | None:
    """The offset between the activity's local and UTC timestamps, rounded to 15 minutes.

    fitdecode hands `local_timestamp` back as if it were UTC; it is the wall-clock time, so the
    difference of the two naive values is the offset.
    """
    utc = _time(frame.get_value("timestamp", fallback=None))
    local = _time(frame.get_value("local_timestamp", fallback=None))
    if utc is None or local is None:
        return None
    delta = local.replace(tzinfo=None) - utc.replace(tzinfo=None)
    quarter = round(delta.total_seconds() / 900) * 900
    if abs(quarter) > 14 * 3600:
        return None
    return timedelta(seconds=quarter)


def _activity(session: dict[str, Any], leg: int, offset: timedelta | None, name: str | None) -> Activity:
    sport = session.get("sport")
    sub = session.get("sub_sport")
    label = name or "/".join(str(x) for x in (sport, sub) if x not in (None, "generic"))
    start_raw = _time(session.get("start_time")) or _time(session.get("timestamp"))
    if start_raw is None:
        raise ParseError(f"session {leg + 1} has no start time")
    start = check_time(start_raw, f"session {leg + 1} start time")
    elapsed = _seconds(session.get("total_elapsed_time")) or _seconds(session.get("total_timer_time"))
    if elapsed is None:
        end = _time(session.get("timestamp"))
        if end is None or end <= start:
            raise ParseError(f"session {leg + 1} has no duration")
        elapsed = end - start
    distance = session.get("total_distance")
    timer = _seconds(session.get("total_timer_time"))
    # The sport first (sub-sports like "road" exist for several sports); the sub-sport decides
    # only under "generic" or "fitness_equipment" (treadmill, indoor_rowing).
    normalised = normalise_sport(
        str(sport) if sport is not None else None, str(sub) if sub is not None else None, name,
    )
    if sport == "transition":
        normalised = "other"
    return Activity(
        sport=normalised or "other",
        label=label or "generic",
        start=start,
        elapsed=elapsed,
        moving=min(timer, elapsed) if timer else None,
        distance_km=float(distance) / 1000 if isinstance(distance, int | float) else None,
        utc_offset=offset,
        leg=leg,
    )
