"""The camera's agreement with the user read through the store (docs/camera.md); its words, JSON
and HTML section are in report/agreement.py, which `trends` uses without opening the store."""

from __future__ import annotations

from datetime import datetime

from posture_agent.domain.sources import Agreement, agreement, near_camera
from posture_agent.store import queries as q
from posture_agent.store.db import Store


def camera_agreement(store: Store, start: datetime | None, end: datetime) -> Agreement:
    """Only the check-ins around the camera's are read (ten years of answers would be fetched in
    vain where the camera was never used); the figures are those of all check-ins in [start, end)."""
    with store.transaction() as s:
        near = near_camera(q.camera_span(s, start, end), start, end)
        return agreement(q.checkins(s, *near) if near else [])
