"""TCX files (Garmin Training Center, Strava and Garmin Connect exports) through lxml.

The laps are the file's own summary: moving time is the sum of the laps' TotalTimeSeconds and the
distance the sum of their DistanceMeters; elapsed time runs from the activity's Id (its start) to
the last timed track point. Strava's bulk export puts spaces before the XML declaration, which a
strict parser refuses, so leading whitespace is dropped first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from posture_agent.importers.activity import Activity, ParsedFile, ParseError, check_time, normalise_sport

ROOT = "TrainingCenterDatabase"


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)


def parse_tcx(data: bytes) -> ParsedFile:
    """Every <Activity> of a TCX file (more than one in a multisport export)."""
    try:
        root = etree.fromstring(data.lstrip(), parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML ({exc.msg})") from None
    name = etree.QName(root).localname
    if name != ROOT:
        raise ParseError(f"not a TCX file: the root element is <{name}>, expected <{ROOT}>")
    elements = root.findall("{*}Activities/{*}Activity")
    if not elements:
        return ParsedFile("tcx", (), no_activity_reason="no <Activity> in <Activities> (a course or workout file)")
    return ParsedFile("tcx", tuple(_activity(el, leg) for leg, el in enumerate(elements)))


def _time(text: str | None, what: str) -> datetime:
    if not text or not text.strip():
        raise ParseError(f"{what} has no time")
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParseError(f"{what} {text.strip()!r} is not an ISO 8601 time") from None
    return at


def _number(element: Any, path: str, what: str) -> float | None:
    text = element.findtext(path)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"{what} {text.strip()!r} is not a number") from None
    if value != value or value < 0:  # NaN or negative
        raise ParseError(f"{what} {text.strip()!r} is out of range")
    return value


def _activity(element: Any, leg: int) -> Activity:
    where = f"activity {leg + 1}"
    label = (element.get("Sport") or "").strip()
    laps = element.findall("{*}Lap")
    first_lap = laps[0].get("StartTime") if laps else None
    raw_start = _time(element.findtext("{*}Id") or first_lap, f"{where} start (<Id>)")
    start = check_time(raw_start, f"{where} start")
    moving_s = 0.0
    distance_m = 0.0
    has_distance = False
    lap_end = start
    for n, lap in enumerate(laps, start=1):
        seconds = _number(lap, "{*}TotalTimeSeconds", f"{where} lap {n} TotalTimeSeconds") or 0.0
        moving_s += seconds
        meters = _number(lap, "{*}DistanceMeters", f"{where} lap {n} DistanceMeters")
        if meters is not None:
            distance_m += meters
            has_distance = True
        if lap.get("StartTime"):
            lap_start = check_time(_time(lap.get("StartTime"), f"{where} lap {n} StartTime"), f"{where} lap {n}")
            lap_end = max(lap_end, lap_start + timedelta(seconds=seconds))
    last_point = start
    for text in element.iterfind("{*}Lap/{*}Track/{*}Trackpoint/{*}Time"):
        at = check_time(_time(text.text, f"{where} track point"), f"{where} track point")
        last_point = max(last_point, at)
    end = max(last_point, lap_end)
    elapsed = end - start
    if elapsed <= timedelta(0):
        raise ParseError(f"{where} has no duration (no laps with TotalTimeSeconds, no timed track points)")
    offset = raw_start.utcoffset()
    return Activity(
        sport=normalise_sport(label) or "other",
        label=label or "not given",
        start=start,
        elapsed=elapsed,
        moving=min(timedelta(seconds=moving_s), elapsed) if moving_s > 0 else None,
        distance_km=distance_m / 1000 if has_distance else None,
        utc_offset=offset if offset else None,
        leg=leg,
    )
