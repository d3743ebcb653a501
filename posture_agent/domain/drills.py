"""The drill catalogue and which drills are planned on a given day."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, tzinfo
from importlib import resources

from posture_agent.domain import advice as rules
from posture_agent.domain.records import Soreness

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



@dataclass(frozen=True)
class DrillPlan:
    """Each day's drill checklist as it stood when the day began (PRODUCT.md §3): a drill added during
    the day (pelvic tilts after a sore lower back) joins from the next day, so a day done stays done.
    The one rule that `drills`, the agent's plan (`schedule`, the tray) and the reports ask."""

    daily: tuple[str, ...]
    tilt_days: frozenset[date]

    @classmethod
    def of(cls, daily: tuple[str, ...], reports: Iterable[Soreness], threshold: int, zone: tzinfo) -> DrillPlan:
        """From the configured drills and the soreness reports (those of the 14 days before a day
        decide it)."""
        return cls(daily, rules.pelvic_tilt_days(reports, threshold, zone))

    def __call__(self, day: date) -> tuple[str, ...]:
        return planned_drills(self.daily, day in self.tilt_days)
