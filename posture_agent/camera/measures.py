"""What a burst of frames measured, and the verdict against the calibrated upright: plain numbers,
shared by the child (which decides) and the resident (which reads the child's answer).

The face's centre height and its width are given in frame widths, so that they do not depend on
the camera's resolution. A head that sinks shows as a lower face centre; leaning in towards the
screen as a larger face. Centimetres come from the calibrated face width: an adult face is about
`FACE_WIDTH_CM` wide where a frontal face detector frames it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

VERDICTS = ("upright", "slouched", "away", "busy")
"""What a check answers: a posture, nobody there, or the camera in use by another program."""

FACE_WIDTH_CM = 15.0
"""The width of the box a frontal face detector draws round an adult face, roughly."""


@dataclass(frozen=True)
class Thresholds:
    """When a burst counts as slouched: the head this many centimetres lower than calibrated, or
    the face this many times as wide (leaning in); nobody there when fewer than `min_seen` of the
    frames show a face."""

    drop_cm: float = 4.0
    lean_ratio: float = 1.2
    min_seen: float = 0.5


@dataclass(frozen=True)
class Measures:
    """The median face of a burst, in frame widths (None when no frame showed a face)."""

    frames: int
    seen: int
    centre_x: float | None = None
    centre_y: float | None = None
    face_width: float | None = None
    people: int = 0
    """The most faces any one frame showed (the nearest, largest face is the one measured)."""

    @property
    def found(self) -> bool:
        return self.centre_y is not None and self.face_width is not None

    def to_json(self) -> dict[str, Any]:
        return {"frames": self.frames, "seen": self.seen, "centre_x": _round(self.centre_x),
                "centre_y": _round(self.centre_y), "face_width": _round(self.face_width), "people": self.people}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measures:
        return cls(
            frames=_count(data, "frames"), seen=_count(data, "seen"), centre_x=_number(data, "centre_x"),
            centre_y=_number(data, "centre_y"), face_width=_number(data, "face_width"),
            people=_count(data, "people"),
        )


@dataclass(frozen=True)
class Calibration:
    """The upright pose, as measured by `camera calibrate`: numbers only, never an image."""

    centre_x: float
    centre_y: float
    face_width: float
    calibrated_at: str = ""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"centre_x": self.centre_x, "centre_y": self.centre_y, "face_width": self.face_width,
                "calibrated_at": self.calibrated_at, "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        x, y, w = _number(data, "centre_x"), _number(data, "centre_y"), _number(data, "face_width")
        if x is None or y is None or w is None or w <= 0:
            raise ValueError("centre_x, centre_y and face_width must be numbers, face_width above 0")
        return cls(x, y, w, str(data.get("calibrated_at", "")), str(data.get("source", "")))


@dataclass(frozen=True)
class Verdict:
    """A check's answer and the few numbers behind it."""

    verdict: str
    measures: Measures
    drop_cm: float | None = None
    """How much lower the head is than calibrated (negative: higher)."""
    size_ratio: float | None = None
    """The face's width over the calibrated width (above 1: nearer the camera)."""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "drop_cm": _round(self.drop_cm, 1), "size_ratio": _round(self.size_ratio, 2),
                "detail": self.detail, "measures": self.measures.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        verdict = data.get("verdict")
        if verdict not in VERDICTS:
            raise ValueError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        measures = data.get("measures") or {}
        if not isinstance(measures, dict):
            raise ValueError("measures must be an object")
        return cls(str(verdict), Measures.from_json(measures), _number(data, "drop_cm"),
                   _number(data, "size_ratio"), str(data.get("detail", ""))[:200])


def needed(frames: int, limits: Thresholds) -> int:
    """How many frames of a burst must show a face for someone to be there."""
    return max(1, math.ceil(frames * limits.min_seen))


def judge(m: Measures, calibration: Calibration | None, limits: Thresholds) -> Verdict:
    """Upright, slouched or away for one burst; without a calibration a seen face is `upright`
    (what `camera calibrate` records)."""
    if not m.found or m.seen < needed(m.frames, limits):
        return Verdict("away", m, detail=f"a face in {m.seen} of {m.frames} frames")
    assert m.centre_y is not None and m.face_width is not None
    if calibration is None:
        return Verdict("upright", m, detail="not calibrated: measures only")
    drop = (m.centre_y - calibration.centre_y) / calibration.face_width * FACE_WIDTH_CM
    ratio = m.face_width / calibration.face_width
    reasons = []
    if drop >= limits.drop_cm:
        reasons.append(f"head {drop:.0f} cm lower")
    if ratio >= limits.lean_ratio:
        reasons.append(f"face {ratio:.2f}x as wide (leaning in)")
    verdict = "slouched" if reasons else "upright"
    return Verdict(verdict, m, drop, ratio, "; ".join(reasons) or "within the calibrated upright")


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return float(value)


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise ValueError(f"{key} must be a whole number from 0 to 10000, got {value!r}")
    return value
