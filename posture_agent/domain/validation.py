"""One validation for every record, wherever it comes from: typed on the command line, answered in a
window, imported, merged from another computer's synced file or restored from a backup.

The command line checks the values a user gives (`check_run`, `check_rounds`, …); `check_row` checks a
whole stored row, every column, as another computer's file or a backup hands it over: types, ranges,
the accepted date range and no time in the future beyond a small clock skew. Pure: it raises `Invalid`,
and each caller says it in its own words (a UserError, a refused row in `sync status`, a line of `restore`).
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from posture_agent.domain import records as r

FIRST_YEAR, LAST_YEAR = 1970, 2200
"""The years any date or time may fall in: wide enough for every real record, narrow enough that a
local day, its UTC instants and the weeks around it stay computable."""
MAX_DISTANCE_KM = 300.0
MIN_DURATION = timedelta(minutes=1)
MAX_SPEED_KMH = 30.0
ROUNDS = (1, 10)
SCORES = (0, 10)
FUTURE_TOLERANCE = timedelta(minutes=1)
"""How far past this computer's `now` a record typed here may be (a time typed to the minute)."""
PEER_CLOCK_SKEW = timedelta(minutes=5)
"""How far past this computer's `now` another computer's record (or a restored one) may be dated:
two clocks kept by NTP agree to well under a second, and a clock a day ahead must not tick
tomorrow's drills here."""
MAX_TEXT = 4096
"""The longest free text a row may carry (a run's origin: the file it was imported from)."""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TAKEN_BACK = ("checkins", "drill_completions", "circuits", "runs", "soreness_reports", "protocol_ends")
"""The tables a tombstone may name."""


class Invalid(ValueError):
    """A value or row that no record can have; the message names the field and what is allowed."""


class Future(Invalid):
    """A row dated later than this computer's clock allows (beyond the skew): not merged now, but
    from `until` on, when this clock has caught up with the other computer's."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """"; did you mean 'chin-tuck'?" when `value` is a near miss of one or two `choices` (difflib),
    else "": what a refusal of a mistyped name adds."""
    close = difflib.get_close_matches(value, list(choices), n=2, cutoff=0.6) if isinstance(value, str) else []
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""


def check_posture(posture: object, allow_missed: bool = False) -> None:
    allowed = (*r.POSTURES, "skipped", *(("missed",) if allow_missed else ()))
    if posture not in allowed:
        raise Invalid(f"posture {posture!r} is not one of: {', '.join(allowed)}{did_you_mean(posture, allowed)}")


def check_context(context: object) -> None:
    if context not in r.CONTEXTS:
        raise Invalid(f"context {context!r} is not one of: {', '.join(r.CONTEXTS)}{did_you_mean(context, r.CONTEXTS)}")


MEASURE_RANGES = {"head_drop_cm": (-100.0, 100.0), "face_size_ratio": (0.0, 10.0)}
"""What a camera check's two measures can be (docs/camera.md): a head within a metre of its
calibrated height, a face up to ten times its calibrated width."""


def check_answered_by(by: object, measures: tuple[object, object] = (None, None)) -> None:
    """Who answered a check-in (the user or a camera check), and the camera's measures, if any."""
    if by not in r.ANSWERED_BY:
        raise Invalid(f"answered_by {by!r} is not one of: {', '.join(r.ANSWERED_BY)}")
    for (name, (low, high)), value in zip(MEASURE_RANGES.items(), measures, strict=True):
        if value is None:
            continue
        if by != "camera":
            raise Invalid(f"{name}: only a camera check-in has measures")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Invalid(f"{name}: {_shown(value)} is not a finite number")
        if not low <= value <= high:
            raise Invalid(f"{name}: {value:g} is out of range ({low:g} to {high:g})")


def check_rounds(rounds: int, name: str = "--rounds") -> None:
    if not ROUNDS[0] <= rounds <= ROUNDS[1]:
        raise Invalid(f"{name} {rounds} is out of range ({ROUNDS[0]} to {ROUNDS[1]})")


def check_score(region: str, value: int | None) -> None:
    if region not in r.REGIONS:
        raise Invalid(f"unknown body region {region!r} (known: {', '.join(r.REGIONS)})")
    if value is not None and not SCORES[0] <= value <= SCORES[1]:
        raise Invalid(f"{region.replace('_', '-')} {value} is out of range ({SCORES[0]} to {SCORES[1]})")


def check_form(flags: frozenset[str] | set[str]) -> None:
    bad = sorted(set(flags) - set(r.FORM_FLAGS))
    if bad:
        raise Invalid(f"unknown form note {bad[0]!r} (known: {', '.join(r.FORM_FLAGS)})")


def check_run(distance_km: float, duration: timedelta) -> None:
    """Refuse numbers no run can have, naming the allowed range."""
    if not 0 < distance_km <= MAX_DISTANCE_KM:
        raise Invalid(f"distance {distance_km:g} km is out of range (more than 0, at most {MAX_DISTANCE_KM:g} km)")
    if not MIN_DURATION <= duration <= r.MAX_RUN_DURATION:
        raise Invalid(f"duration {duration} is out of range (1 minute to 48 hours)")
    speed = distance_km / (duration.total_seconds() / 3600)
    if speed > MAX_SPEED_KMH:
        raise Invalid(
            f"{distance_km:g} km in {duration} is {speed:.1f} km/h, faster than any runner "
            f"(at most {MAX_SPEED_KMH:g} km/h): check the distance and the duration"
        )


# --- whole rows (another computer's file, a backup) -------------------------------------------------


def _text(row: Mapping[str, Any], name: str, longest: int, optional: bool = False, empty: bool = False) -> str | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name}: {_shown(value)} is not text")
    if not empty and not value:
        raise Invalid(f"{name}: is empty")
    if len(value) > longest:
        raise Invalid(f"{name}: {len(value)} characters, at most {longest}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{name}: not valid UTF-8 text") from None
    if "\x00" in value:  # line breaks are allowed (a device name may have one): every display escapes them
        raise Invalid(f"{name}: contains a NUL character")
    return value


def _uuid(row: Mapping[str, Any], name: str, optional: bool = False) -> str | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise Invalid(f"{name}: {_shown(value)} is not a record id (a lower-case UUID)")
    return value


def _time(row: Mapping[str, Any], name: str, latest: datetime) -> datetime:
    value = row.get(name)
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid(f"{name}: {_shown(value)} is not an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: {_shown(value)} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise Invalid(f"{name}: {_shown(value)} has no UTC offset")
    if not FIRST_YEAR <= at.year <= LAST_YEAR:  # before converting, which could overflow
        raise Invalid(f"{name}: {_shown(value)} is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    at = at.astimezone(UTC)
    if at > latest:
        raise Future(f"{name}: {value} is in the future by this computer's clock", at - PEER_CLOCK_SKEW)
    return at


def _number(row: Mapping[str, Any], name: str, optional: bool = False) -> float | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(f"{name}: {_shown(value)} is not a finite number")
    return float(value)


def _integer(row: Mapping[str, Any], name: str, low: int, high: int, optional: bool = False) -> int | None:
    value = row.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name}: {_shown(value)} is not a whole number")
    if not low <= value <= high:
        raise Invalid(f"{name}: {value} is out of range ({low} to {high})")
    return value


def _flag(row: Mapping[str, Any], name: str) -> bool:
    value = row.get(name)
    if value not in (True, False):  # 0 and 1 too: a backup's SQLite booleans
        raise Invalid(f"{name}: {_shown(value)} is not true or false")
    return bool(value)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 36, 36


def _shown(value: object) -> str:
    """A value in a message: short, and never deeper than two levels (a row may nest anything)."""
    text = _REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_row(table: str, row: Mapping[str, Any], now: datetime, skew: timedelta = PEER_CLOCK_SKEW) -> None:
    """Refuse (Invalid, naming the column) a stored row of `table` that this app could not have
    written: the same rules as the command line, plus the columns every record carries. Times are
    ISO 8601 text with an offset, as synced files and `sharing.to_plain` hold them."""
    if not isinstance(row, Mapping):
        raise Invalid(f"not a record ({type(row).__name__})")
    latest = now.astimezone(UTC) + skew
    _uuid(row, "id")
    _time(row, "created_at", latest)
    _text(row, "device", 64)
    _text(row, "source", 16)
    try:
        _CHECKS[table](row, latest)
    except KeyError:
        raise Invalid(f"table {table!r} is not one of: {', '.join(_CHECKS)}") from None
    except (TypeError, OverflowError, ValueError) as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(f"{exc.__class__.__name__}: {exc}") from None


def _checkin(row: Mapping[str, Any], latest: datetime) -> None:
    _time(row, "at", latest)
    try:
        check_posture(row.get("posture"), allow_missed=True)
        check_context(row.get("context"))
    except Invalid as exc:
        raise Invalid(str(exc).replace(" ", ": ", 1)) from None
    _flag(row, "prompted")
    if row.get("answered_by") is not None:  # an older version's rows have none: the user's (tables.py)
        check_answered_by(row["answered_by"], (row.get("head_drop_cm"), row.get("face_size_ratio")))
    elif row.get("head_drop_cm") is not None or row.get("face_size_ratio") is not None:
        raise Invalid("head_drop_cm: only a camera check-in has measures")


def _drill(row: Mapping[str, Any], latest: datetime) -> None:
    _time(row, "at", latest)
    _text(row, "drill", 64)


def _circuit(row: Mapping[str, Any], latest: datetime) -> None:
    _time(row, "at", latest)
    _integer(row, "rounds", *ROUNDS)


def _run(row: Mapping[str, Any], latest: datetime) -> None:
    start = _time(row, "start", latest)
    duration = _number(row, "duration_s")
    distance = _number(row, "distance_km")
    assert duration is not None and distance is not None
    if not MIN_DURATION.total_seconds() <= duration <= r.MAX_RUN_DURATION.total_seconds():
        raise Invalid(f"duration_s: {duration:g} is out of range (60 to {r.MAX_RUN_DURATION.total_seconds():g})")
    try:
        check_run(distance, timedelta(seconds=duration))
    except Invalid as exc:
        raise Invalid(f"distance_km: {exc}") from None
    moving = _number(row, "moving_s", optional=True)
    if moving is not None and not 0 <= moving <= duration:
        raise Invalid(f"moving_s: {moving:g} is out of range (0 to the duration, {duration:g})")
    end = start + timedelta(seconds=duration)
    if end > latest:
        raise Future("start: the run would end in the future by this computer's clock", end - PEER_CLOCK_SKEW)
    _text(row, "sport", 32)
    _text(row, "fingerprint", 64, optional=True)
    _text(row, "origin", MAX_TEXT, optional=True)


def _soreness(row: Mapping[str, Any], latest: datetime) -> None:
    _time(row, "at", latest)
    scores = [_integer(row, region, *SCORES, optional=True) for region in r.REGIONS]
    si_pain = _flag(row, "si_pain_reported")
    if all(s is None for s in scores) and not si_pain:
        raise Invalid("no region's soreness and no SI joint pain: an empty report")
    form = _text(row, "form", 128, empty=True) or ""
    try:
        check_form({f for f in form.split(",") if f})
    except Invalid as exc:
        raise Invalid(f"form: {exc}") from None
    _uuid(row, "run_id", optional=True)


def _protocol_end(row: Mapping[str, Any], latest: datetime) -> None:
    _time(row, "at", latest)


def _tombstone(row: Mapping[str, Any], latest: datetime) -> None:
    if row.get("record_table") not in TAKEN_BACK:
        raise Invalid(f"record_table: {_shown(row.get('record_table'))} is not one of: {', '.join(TAKEN_BACK)}")
    _uuid(row, "record_id")
    _uuid(row, "replaced_by", optional=True)


_CHECKS = {
    "runs": _run, "checkins": _checkin, "drill_completions": _drill, "circuits": _circuit,
    "soreness_reports": _soreness, "protocol_ends": _protocol_end, "tombstones": _tombstone,
}
