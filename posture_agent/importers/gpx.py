"""GPX files (Garmin Connect, Strava, Nike Run Club via converters, GPSBabel) through gpxpy.

GPX has no summary: the start is the first timed point (never `<metadata><time>`, which Garmin
Connect sets to the export's date), the distance is the 2-D track length, moving time is gpxpy's
estimate from the track (stops detected by speed), not a device's timer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import gpxpy
import gpxpy.gpx

from posture_agent.importers.activity import (
    EARLIEST,
    Activity,
    ParsedFile,
    ParseError,
    check_time,
    normalise_sport,
    sport_from_pace,
)

MIN_TIMED_SHARE = 0.5
"""A track with times on fewer than half of its points is a route, not a recording."""


def parse_gpx(data: bytes) -> ParsedFile:
    """The one activity a GPX file records (all its tracks together)."""
    try:
        gpx = gpxpy.parse(data.lstrip().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except gpxpy.gpx.GPXXMLSyntaxException as exc:
        raise ParseError(f"not well-formed GPX XML ({_first_line(exc)})") from None
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        raise ParseError(f"not a valid GPX file ({_first_line(exc)})") from None

    points = [p for track in gpx.tracks for segment in track.segments for p in segment.points]
    if not points:
        return ParsedFile("gpx", (), no_activity_reason="no track points (a route or waypoints only)")
    stamped = [p.time for p in points if p.time is not None]
    real: list[datetime] = [t for t in stamped if _aware(t) >= EARLIEST]
    if stamped and not real:
        placeholder = _aware(min(stamped))
        why = f"no usable times: every point has the placeholder time {placeholder:%Y-%m-%d %H:%M:%S}Z"
        return ParsedFile("gpx", (), no_activity_reason=why)
    if len(real) < 2 or len(real) < MIN_TIMED_SHARE * len(points):
        why = f"no usable times: only {len(real)} of {len(points)} track points have a time"
        return ParsedFile("gpx", (), no_activity_reason=why)
    first, last = min(real), max(real)
    start = check_time(_aware(first), "first track point")
    elapsed = _aware(last) - _aware(first)
    if elapsed <= timedelta(0):
        return ParsedFile("gpx", (), no_activity_reason="no usable times: all track points have the same time")
    moving_data = gpx.get_moving_data()
    moving = timedelta(seconds=moving_data.moving_time) if moving_data and moving_data.moving_time else None
    distance_km = gpx.length_2d() / 1000

    types = [str(t.type).strip() for t in gpx.tracks if t.type]
    label = next((t for t in types if t), "")
    sport = normalise_sport(label) if label else None
    inferred = False
    if sport is None and not label:
        sport = sport_from_pace(distance_km, moving, elapsed)
        inferred = sport is not None
    offset = _aware(first).utcoffset()
    activity = Activity(
        sport=sport or "other",
        label=label or "not given",
        start=start,
        elapsed=elapsed,
        moving=moving,
        distance_km=distance_km,
        utc_offset=offset if offset else None,
        sport_inferred=inferred,
    )
    return ParsedFile("gpx", (activity,))


def _aware(at: datetime) -> datetime:
    """A time without an offset is taken as UTC (the GPX schema says times are UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
