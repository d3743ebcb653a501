"""What every parser hands back: plain activities with a normalised sport, and the errors that name
what is wrong with a file. Nothing here knows a file format or the store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

SPORTS = ("running", "cycling", "walking", "hiking", "rowing", "swimming", "other")

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
"""Before consumer GPS watches: a time earlier than this is a placeholder, not a start (GPSBabel
writes 1901-12-13T20:45:52Z, -2**31 s from the epoch, for "no time")."""


class ParseError(Exception):
    """The file cannot be read as an activity; the message says what is wrong, without the path."""


@dataclass(frozen=True)
class Activity:
    """One activity (or one leg of a multisport file), in the file's own numbers."""

    sport: str
    """Normalised: one of SPORTS."""
    label: str
    """The sport as the file names it (e.g. "MTB", "9", "fitness_equipment/indoor_rowing")."""
    start: datetime
    """Aware, in UTC."""
    elapsed: timedelta
    moving: timedelta | None
    """The device's timer time (pauses left out) where the file records one."""
    distance_km: float | None
    utc_offset: timedelta | None = None
    """The local offset at the start where the file records it (FIT activity.local_timestamp, an
    ISO time with a non-zero offset); None when the file gives UTC only."""
    leg: int = 0
    """Position among the file's activities (multisport sessions), from 0."""
    sport_inferred: bool = False
    """The file names no sport; `sport` was taken from the pace."""

    @property
    def end(self) -> datetime:
        return self.start + self.elapsed

    @property
    def local_start(self) -> datetime:
        """The start with its real offset, or in UTC when the offset is unknown."""
        if self.utc_offset is None:
            return self.start
        return self.start.astimezone(timezone(self.utc_offset))


@dataclass(frozen=True)
class ParsedFile:
    """A file's activities, and a note when only the file's own summary could be trusted."""

    format: str
    """"fit", "gpx" or "tcx"."""
    activities: tuple[Activity, ...]
    damage: str | None = None
    """Set when the track is damaged but the summary (FIT session messages) was read intact before
    the damage; the activities then come from that summary alone."""
    no_activity_reason: str | None = None
    """Why a well-formed file yields no activity (e.g. no usable times)."""


# --- sports -------------------------------------------------------------------------------------

STRAVA_TYPES = {
    "1": "cycling", "4": "hiking", "9": "running", "10": "walking", "16": "swimming",
    "17": "cycling", "23": "rowing", "53": "running",
}
"""Strava's numeric GPX <type> codes (9 = Run) for the sports we know; other numbers are "other"."""

WORDS = {
    "running": ("run", "running", "trail", "trail_running", "trailrun", "treadmill", "treadmill_running",
                "track_running", "street", "indoor_running", "virtual_run", "virtualrun",
                "jogging", "jog", "ultra"),
    "cycling": ("cycling", "biking", "bike", "ride", "mtb", "mountain", "road_biking", "cyclocross",
                "virtual_ride", "virtualride", "e_bike_ride", "ebikeride", "indoor_cycling", "gravel_cycling",
                "spin"),
    "walking": ("walk", "walking", "casual_walking", "speed_walking"),
    "hiking": ("hike", "hiking"),
    "rowing": ("rowing", "row", "indoor_rowing", "kayaking", "canoeing", "paddling"),
    "swimming": ("swim", "swimming", "lap_swimming", "open_water", "open_water_swimming", "pool_swimming"),
}
_BY_WORD = {word: sport for sport, words in WORDS.items() for word in words}


def normalise_sport(*names: str | None) -> str | None:
    """The sport named by the most specific of `names` (sub-sport first), None when none is known.

    Accepts FIT enum names, TCX Sport attributes, GPX <type> words and Strava's numbers.
    """
    for name in names:
        if name is None:
            continue
        key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
        if not key or key in ("generic", "all", "other", "none", "invalid", "fitness_equipment", "training"):
            continue
        if key in STRAVA_TYPES:
            return STRAVA_TYPES[key]
        if key in _BY_WORD:
            return _BY_WORD[key]
        for word in key.split("_"):
            if word in _BY_WORD:
                return _BY_WORD[word]
    return None


RUNNING_KMH = (6.5, 22.0)
"""Average speeds (km/h) taken as running when a file names no sport: faster than a brisk walk,
slower than a bike on the flat."""


def sport_from_pace(distance_km: float | None, moving: timedelta | None, elapsed: timedelta) -> str | None:
    """"running" when the average speed is a running speed; None when it says nothing."""
    time = moving if moving and moving.total_seconds() > 0 else elapsed
    if not distance_km or time.total_seconds() <= 0:
        return None
    kmh = distance_km / (time.total_seconds() / 3600)
    return "running" if RUNNING_KMH[0] <= kmh <= RUNNING_KMH[1] else None


def check_time(at: datetime, what: str) -> datetime:
    """`at` in UTC, refusing placeholder times."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    if at < EARLIEST:
        raise ParseError(f"{what} {at:%Y-%m-%d %H:%M:%S}Z is a placeholder, not a real time")
    return at
