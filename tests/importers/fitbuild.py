"""A minimal FIT writer for tests: file_id, records, sessions and an activity message, with real
header and file checksums (FIT protocol 2.0 layout), so tests can make files fitdecode reads."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fitdecode.utils import compute_crc

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
SPORTS = {"generic": 0, "running": 1, "cycling": 2, "transition": 3, "fitness_equipment": 4, "swimming": 5,
          "walking": 11, "hiking": 17}
SUB_SPORTS = {"generic": 0, "treadmill": 1, "trail": 3, "indoor_rowing": 14}

ENUM, UINT16, UINT32 = 0x00, 0x84, 0x86
SIZES = {ENUM: 1, UINT16: 2, UINT32: 4}
FORMATS = {ENUM: "B", UINT16: "H", UINT32: "I"}


def fit_time(at: datetime) -> int:
    return int((at - FIT_EPOCH).total_seconds())


@dataclass(frozen=True)
class Session:
    start: datetime
    elapsed: timedelta
    distance_km: float
    sport: str = "running"
    sub_sport: str = "generic"
    timer: timedelta | None = None


class _Writer:
    def __init__(self) -> None:
        self.body = bytearray()

    def define(self, local: int, global_num: int, fields: list[tuple[int, int]]) -> None:
        self.body += struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(fields))
        for number, base in fields:
            self.body += struct.pack("<BBB", number, SIZES[base], base)

    def data(self, local: int, fields: list[tuple[int, int]], values: list[int]) -> None:
        self.body += struct.pack("<B", local)
        for (_, base), value in zip(fields, values, strict=True):
            self.body += struct.pack("<" + FORMATS[base], value)


FILE_ID = [(0, ENUM), (1, UINT16), (4, UINT32)]  # type, manufacturer, time_created
RECORD = [(253, UINT32), (5, UINT32)]  # timestamp, distance (cm)
SESSION = [(253, UINT32), (2, UINT32), (7, UINT32), (8, UINT32), (9, UINT32), (5, ENUM), (6, ENUM)]
ACTIVITY = [(253, UINT32), (5, UINT32), (1, UINT16)]  # timestamp, local_timestamp, num_sessions


def build_fit(sessions: list[Session], utc_offset: timedelta | None = None, records: int = 20) -> bytes:
    """A FIT activity file: a few track records per session, the sessions, then the activity."""
    w = _Writer()
    w.define(0, 0, FILE_ID)
    w.data(0, FILE_ID, [4, 255, fit_time(sessions[0].start)])
    w.define(1, 20, RECORD)
    for s in sessions:
        for i in range(records):
            at = s.start + s.elapsed * i / max(records - 1, 1)
            w.data(1, RECORD, [fit_time(at), int(s.distance_km * 100_000 * i / max(records - 1, 1))])
    w.define(2, 18, SESSION)
    for s in sessions:
        end = s.start + s.elapsed
        timer = s.timer or s.elapsed
        w.data(2, SESSION, [
            fit_time(end), fit_time(s.start), int(s.elapsed.total_seconds() * 1000),
            int(timer.total_seconds() * 1000), int(s.distance_km * 100_000),
            SPORTS[s.sport], SUB_SPORTS[s.sub_sport],
        ])
    last = sessions[-1].start + sessions[-1].elapsed
    if utc_offset is not None:
        w.define(3, 34, ACTIVITY)
        w.data(3, ACTIVITY, [fit_time(last), fit_time(last + utc_offset), len(sessions)])
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(w.body), b".FIT")
    header += struct.pack("<H", compute_crc(header))
    content = header + bytes(w.body)
    return content + struct.pack("<H", compute_crc(content))
