"""ORM classes mapped onto the Core tables of `store.tables`, for code that prefers objects.

Importing this module loads `sqlalchemy.orm`; the everyday command path (journal, queries) uses the
Core tables directly and never imports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped, registry

from posture_agent.store import tables as t
from posture_agent.store.tables import new_id, utcnow

__all__ = ["new_id", "utcnow"]

mapper_registry = registry(metadata=t.metadata)


class _Row:
    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


class _Record(_Row):
    id: Mapped[str]
    created_at: Mapped[datetime]
    device: Mapped[str]
    source: Mapped[str]


class Meta(_Row):
    key: Mapped[str]
    value: Mapped[str]


class CheckInRow(_Record):
    at: Mapped[datetime]
    context: Mapped[str]
    posture: Mapped[str]
    prompted: Mapped[bool]


class DrillRow(_Record):
    at: Mapped[datetime]
    drill: Mapped[str]


class CircuitRow(_Record):
    at: Mapped[datetime]
    rounds: Mapped[int]


class RunRow(_Record):
    start: Mapped[datetime]
    duration_s: Mapped[float]
    moving_s: Mapped[float | None]
    distance_km: Mapped[float]
    sport: Mapped[str]
    fingerprint: Mapped[str | None]
    origin: Mapped[str | None]


class SorenessRow(_Record):
    at: Mapped[datetime]
    upper_back: Mapped[int | None]
    mid_back: Mapped[int | None]
    lower_back: Mapped[int | None]
    si_joint: Mapped[int | None]
    si_pain_reported: Mapped[bool]
    form: Mapped[str]
    run_id: Mapped[str | None]


class ProtocolEndRow(_Record):
    at: Mapped[datetime]


class PromptRow(_Record):
    kind: Mapped[str]
    due: Mapped[datetime]
    context: Mapped[str | None]
    shown_at: Mapped[datetime | None]
    outcome: Mapped[str | None]


for _cls, _table in (
    (Meta, t.meta), (CheckInRow, t.checkins), (DrillRow, t.drill_completions), (CircuitRow, t.circuits),
    (RunRow, t.runs), (SorenessRow, t.soreness_reports), (ProtocolEndRow, t.protocol_ends),
    (PromptRow, t.prompts),
):
    mapper_registry.map_imperatively(_cls, _table)
