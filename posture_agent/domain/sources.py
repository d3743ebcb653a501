"""Who answered a check-in (the user, or a camera check) and what the figures make of it: which
check-ins count for a chosen source, and how often the camera and the user agreed when both answered.

A camera check-in and a user's answer are about the same moment when they are in the same context
within `PAIR_WINDOW` of each other (the camera answers at the check-in time; the user's "That's
wrong" or their own `checkin` comes minutes later). With both sources ("all"), the user's word wins:
a camera check-in with a user's answer that near is left out, so a correction counts instead of it
(store/queries.counted_source says the same to SQLite for the trends).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from posture_agent.domain.records import POSTURES, CheckIn

SOURCES = ("all", "user", "camera")
PAIR_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Agreement:
    """Camera check-ins, and of them those the user also answered (`pairs`), `agreed` on the same posture."""

    camera: int
    pairs: int
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.pairs if self.pairs else None


def pairs(checkins: Iterable[CheckIn]) -> list[tuple[CheckIn, CheckIn]]:
    """(camera, user) check-ins about the same moment: each camera check-in with the nearest user
    answer in its context within PAIR_WINDOW, each user answer used once."""
    ordered = sorted(checkins, key=lambda c: c.at)
    users: dict[str, list[CheckIn]] = {}
    for c in ordered:
        if c.by == "user" and c.posture in POSTURES:
            users.setdefault(c.context, []).append(c)
    times = {ctx: [u.at for u in listed] for ctx, listed in users.items()}
    used: set[str] = set()
    out = []
    for cam in (c for c in ordered if c.by == "camera" and c.posture in POSTURES):
        listed, at = users.get(cam.context, []), times.get(cam.context, [])
        lo, hi = bisect_left(at, cam.at - PAIR_WINDOW), bisect_right(at, cam.at + PAIR_WINDOW)
        near = [u for u in listed[lo:hi] if u.id not in used]
        if near:
            user = min(near, key=lambda u: abs(u.at - cam.at))
            used.add(user.id)
            out.append((cam, user))
    return out


def by_source(checkins: Sequence[CheckIn], source: str) -> list[CheckIn]:
    """The check-ins the figures count for `source`: "user", "camera", or "all" (the user's word
    over the camera's where both answered)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    if source != "all":
        return [c for c in checkins if c.by == source]
    answered: dict[str, list[datetime]] = {}
    for c in checkins:
        if c.by == "user" and c.posture in POSTURES:
            answered.setdefault(c.context, []).append(c.at)
    for times in answered.values():
        times.sort()

    def overruled(c: CheckIn) -> bool:
        times = answered.get(c.context, [])
        i = bisect_left(times, c.at - PAIR_WINDOW)
        return i < len(times) and times[i] <= c.at + PAIR_WINDOW

    return [c for c in checkins if c.by == "user" or not overruled(c)]


def near_camera(span: tuple[datetime, datetime] | None, start: datetime | None,
                end: datetime) -> tuple[datetime, datetime] | None:
    """The times [from, to) of the check-ins that the agreement over [start, end) needs, given the
    first and last camera check-in in it (`span`): those within PAIR_WINDOW of them, both edges
    included (ten years of answers need not be read where the camera was used for a month);
    None where the camera was never used."""
    if span is None:
        return None
    first, last = span[0] - PAIR_WINDOW, span[1] + PAIR_WINDOW + timedelta(microseconds=1)
    return (first if start is None else max(start, first)), min(end, last)


def agreement(checkins: Iterable[CheckIn]) -> Agreement:
    listed = list(checkins)
    both = pairs(listed)
    camera = sum(1 for c in listed if c.by == "camera" and c.posture in POSTURES)
    return Agreement(camera, len(both), sum(1 for cam, user in both if cam.posture == user.posture))
