"""Sitting before a run and soreness after it: for each run, the slouch rate of the check-ins answered
in the 48 hours before it starts and the first soreness report within 24 hours after it ends.
Lookups use sorted times and bisection (with prefix sums for the slouch counts), never a scan per run.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from posture_agent.domain.records import POSTURES, CheckIn, Run, Soreness

EXPOSURE_WINDOW = timedelta(hours=48)
EXPOSURE_MIN_CHECKINS = 3
SORENESS_WINDOW = timedelta(hours=24)


class AnswerIndex:
    """Answered check-ins sorted by time with a running slouched count: a window is two bisections."""

    def __init__(self, checkins: Iterable[CheckIn]) -> None:
        answered = sorted((c.at, c.posture == "slouched") for c in checkins if c.posture in POSTURES)
        self.times = [at for at, _ in answered]
        self.slouched = [0]
        for _, s in answered:
            self.slouched.append(self.slouched[-1] + s)

    def window(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(answered, slouched) in [start, end)."""
        i, j = bisect_left(self.times, start), bisect_left(self.times, end)
        return j - i, self.slouched[j] - self.slouched[i]


@dataclass(frozen=True)
class Exposure:
    rate: float | None
    """Slouch rate in the 48 h before the start; None with fewer than 3 answered check-ins."""
    answered: int


def exposure_of(answered: int, slouched: int) -> Exposure:
    """The exposure from the counts of the 48 h before a run: no rate under 3 answers."""
    return Exposure(slouched / answered if answered >= EXPOSURE_MIN_CHECKINS else None, answered)


def exposure_before(run: Run, index: AnswerIndex) -> Exposure:
    return exposure_of(*index.window(run.start - EXPOSURE_WINDOW, run.start))


class SorenessIndex:
    """Soreness reports sorted by time, to find the first one after a moment by bisection."""

    def __init__(self, reports: Iterable[Soreness]) -> None:
        self.reports = sorted(reports, key=lambda s: (s.at, s.id))
        self.times = [s.at for s in self.reports]

    def first_between(self, start: datetime, end: datetime) -> Soreness | None:
        """The first report with start <= at <= end."""
        i = bisect_left(self.times, start)
        if i < len(self.times) and self.times[i] <= end:
            return self.reports[i]
        return None


def soreness_after(run: Run, index: SorenessIndex) -> Soreness | None:
    """The first soreness report in the 24 h after the run ends (both ends included)."""
    return index.first_between(run.end, run.end + SORENESS_WINDOW)


class RunFacts(NamedTuple):
    """What the trends are computed from, as the store reads it: the runs, the answered and the
    slouched check-ins in the 48 h before each ({run id: (answered, slouched)}, counted by SQLite
    rather than fetched one by one) and the soreness reports."""

    runs: list[Run]
    counts: dict[str, tuple[int, int]]
    soreness: list[Soreness]


@dataclass(frozen=True)
class RunPoint:
    """A run with the slouch exposure before it and the soreness after it."""

    run: Run
    exposure: Exposure
    soreness: Soreness | None

    def score(self, region: str) -> int | None:
        return self.soreness.region(region) if self.soreness else None


def run_points(runs: Iterable[Run], answers: AnswerIndex | Mapping[str, tuple[int, int]],
               reports: SorenessIndex) -> list[RunPoint]:
    """Each run with its exposure, from the check-ins (`AnswerIndex`) or from counts already made
    per run id ({id: (answered, slouched)}, a run missing from it had none), and its soreness."""

    def exposure(run: Run) -> Exposure:
        if isinstance(answers, AnswerIndex):
            return exposure_before(run, answers)
        return exposure_of(*answers.get(run.id, (0, 0)))

    return [RunPoint(run, exposure(run), soreness_after(run, reports)) for run in sorted(runs, key=lambda x: x.start)]


def points_in(points: Sequence[RunPoint], start: datetime, end: datetime) -> list[RunPoint]:
    """Run points whose run starts in [start, end); `points` must be sorted by start."""
    starts = [p.run.start for p in points]
    return list(points[bisect_left(starts, start):bisect_left(starts, end)])
