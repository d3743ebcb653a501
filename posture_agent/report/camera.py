"""The report's part about camera check-ins (docs/camera.md): which source the figures count, and how
often the camera and the user agreed when both answered, as JSON, text lines and an HTML section."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from posture_agent.domain.sources import PAIR_WINDOW, Agreement, agreement
from posture_agent.store import queries as q
from posture_agent.store.db import Store

SOURCE_WORDS = {"all": "your answers and camera checks (yours where both answered)",
                "user": "your own answers only", "camera": "camera checks only"}


def camera_agreement(store: Store, start: datetime | None, end: datetime) -> Agreement:
    """Only the check-ins around the camera's are read (ten years of answers would be fetched in
    vain where the camera was never used); the figures are those of all check-ins in [start, end)."""
    with store.transaction() as s:
        span = q.camera_span(s, start, end)
        if span is None:
            return Agreement(0, 0, 0)
        first, last = span[0] - PAIR_WINDOW, span[1] + PAIR_WINDOW + timedelta(microseconds=1)  # [first, last)
        return agreement(q.checkins(s, first if start is None else max(start, first), min(end, last)))


def agreement_json(a: Agreement, source: str) -> dict[str, Any]:
    return {"source": source, "camera_checkins": a.camera, "both_answered": a.pairs, "agreed": a.agreed,
            "agreement_rate": None if a.rate is None else round(a.rate, 4)}


def agreement_words(a: Agreement) -> str:
    if not a.camera:
        return "No camera check-ins."
    if not a.pairs:
        return f"{a.camera} camera check-in{'s' if a.camera != 1 else ''}; you answered none of the same moments."
    assert a.rate is not None
    return (f"Camera and you agreed on {a.agreed} of {a.pairs} check-ins you both answered ({a.rate:.0%}); "
            f"{a.camera} camera check-in{'s' if a.camera != 1 else ''} in all.")


def agreement_text(a: Agreement, source: str) -> list[str]:
    lines = [f"Check-ins counted: {SOURCE_WORDS[source]}."]
    if a.camera or source != "all":
        lines.append(agreement_words(a))
    return lines


def agreement_html(a: Agreement, source: str) -> str:
    """A short section for the page; none when there is nothing about the camera to say."""
    if not a.camera and source == "all":
        return ""
    return (f'<section id="camera" aria-label="Camera check-ins"><h2>Camera check-ins</h2>'
            f"<p>Check-ins counted: {escape(SOURCE_WORDS[source])}.</p><p>{escape(agreement_words(a))}</p></section>\n")
