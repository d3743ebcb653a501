"""The drill catalogue and which drills are planned on a given day."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

PELVIC_TILT = "pelvic-tilt"
ICE = "ice-si-joint"


@dataclass(frozen=True)
class Drill:
    name: str
    title: str
    how: str
    dose: str
    kind: str = "custom"


def load_catalogue() -> dict[str, Drill]:
    """The built-in catalogue shipped as data in the package."""
    text = resources.files("posture_agent.data").joinpath("drills.toml").read_text("utf-8")
    return {name: Drill(name=name, **entry) for name, entry in tomllib.loads(text).items()}


def planned_drills(daily: tuple[str, ...], pelvic_tilts: bool) -> tuple[str, ...]:
    """Today's checklist: the configured daily drills, plus pelvic tilts while advised."""
    if pelvic_tilts and PELVIC_TILT not in daily:
        return (*daily, PELVIC_TILT)
    return daily
