"""The report's part about camera check-ins (docs/camera.md) in words: which source the figures
count, and how often the camera and the user agreed when both answered, as JSON, text lines and an
HTML section. Plain data in, no store: `trends` reads the agreement without SQLAlchemy."""

from __future__ import annotations

from html import escape
from typing import Any

from posture_agent.domain.sources import Agreement

SOURCE_WORDS = {"all": "your answers and camera checks (yours where both answered)",
                "user": "your own answers only", "camera": "camera checks only"}


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
