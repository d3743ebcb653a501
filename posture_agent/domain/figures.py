"""The report figures of PRODUCT.md §3, as pure functions over plain records.

Kept apart from loading and rendering so each figure can be checked by hand against a hand-built
week. Days are local days in the zone given; stored times are UTC. Lookups over long histories use
sorted times and bisection (with prefix sums for the slouch counts), never a scan per run.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from posture_agent.domain.records import CONTEXTS, POSTURES, REGIONS, CheckIn, Circuit, DrillDone, Run, Soreness

EXPOSURE_WINDOW = timedelta(hours=48)
EXPOSURE_MIN_CHECKINS = 3
SORENESS_WINDOW = timedelta(hours=24)
TREND_MIN_N = 8


# --- days and weeks -------------------------------------------------------------------------------


def local_day(at: datetime, zone: tzinfo) -> date:
    return at.astimezone(zone).date()


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC: 23 or 25 hours long across a DST change."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def week_days(year: int, week: int) -> list[date]:
    """The seven local days of an ISO week, Monday first."""
    monday = date.fromisocalendar(year, week, 1)
    return [monday + timedelta(days=i) for i in range(7)]


def week_bounds(year: int, week: int, zone: tzinfo) -> tuple[datetime, datetime]:
    days = week_days(year, week)
    return day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# --- slouch rate ----------------------------------------------------------------------------------


def slouch_rate(checkins: Iterable[CheckIn]) -> float | None:
    """slouched / (upright + slouched + standing); skipped and missed left out; no answers → None."""
    answered = slouched = 0
    for c in checkins:
        if c.posture in POSTURES:
            answered += 1
            slouched += c.posture == "slouched"
    return slouched / answered if answered else None


@dataclass(frozen=True)
class CheckinCounts:
    upright: int = 0
    slouched: int = 0
    standing: int = 0
    skipped: int = 0
    missed: int = 0

    @property
    def answered(self) -> int:
        return self.upright + self.slouched + self.standing

    @property
    def slouch_rate(self) -> float | None:
        return self.slouched / self.answered if self.answered else None


def count_checkins(checkins: Iterable[CheckIn]) -> CheckinCounts:
    tally = dict.fromkeys(("upright", "slouched", "standing", "skipped", "missed"), 0)
    for c in checkins:
        tally[c.posture] += 1
    return CheckinCounts(**tally)


@dataclass(frozen=True)
class CheckinFigures:
    total: CheckinCounts
    by_context: dict[str, CheckinCounts]
    by_day: dict[date, dict[str, CheckinCounts]]
    """Per local day, per context."""


def checkin_figures(checkins: Iterable[CheckIn], days: Sequence[date], zone: tzinfo) -> CheckinFigures:
    """Counts and slouch rates for `days`: overall, per context, per day and context."""
    groups: dict[tuple[date, str], list[CheckIn]] = {(day, ctx): [] for day in days for ctx in CONTEXTS}
    for c in checkins:
        key = (local_day(c.at, zone), c.context)
        if key in groups:
            groups[key].append(c)
    mine = [c for group in groups.values() for c in group]
    by_day = {day: {ctx: count_checkins(groups[day, ctx]) for ctx in CONTEXTS} for day in days}
    by_context = {ctx: count_checkins(c for c in mine if c.context == ctx) for ctx in CONTEXTS}
    return CheckinFigures(count_checkins(mine), by_context, by_day)


# --- exposure before a run, soreness after it ----------------------------------------------------


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


def exposure_before(run: Run, index: AnswerIndex) -> Exposure:
    answered, slouched = index.window(run.start - EXPOSURE_WINDOW, run.start)
    rate = slouched / answered if answered >= EXPOSURE_MIN_CHECKINS else None
    return Exposure(rate, answered)


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


@dataclass(frozen=True)
class RunPoint:
    """A run with the slouch exposure before it and the soreness after it."""

    run: Run
    exposure: Exposure
    soreness: Soreness | None

    def score(self, region: str) -> int | None:
        return self.soreness.region(region) if self.soreness else None


def run_points(runs: Iterable[Run], answers: AnswerIndex, reports: SorenessIndex) -> list[RunPoint]:
    return [RunPoint(run, exposure_before(run, answers), soreness_after(run, reports))
            for run in sorted(runs, key=lambda x: x.start)]


# --- the trend: Spearman rank correlation ---------------------------------------------------------


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties sharing the average of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


@dataclass(frozen=True)
class Trend:
    region: str
    rho: float | None
    n: int
    reason: str | None
    """Why rho is None; None when rho is given."""


def spearman(xs: Sequence[float], ys: Sequence[float]) -> tuple[float | None, str | None]:
    """Spearman's rho with average ranks for ties, or None and the reason (n < 8, constant side)."""
    n = len(xs)
    if n < TREND_MIN_N:
        return None, f"only {n} run{'s' if n != 1 else ''} with both figures; at least {TREND_MIN_N} are needed"
    if len(set(xs)) == 1:
        return None, "the slouch exposure was the same before every run"
    if len(set(ys)) == 1:
        return None, "the soreness score was the same after every run"
    return pearson(average_ranks(xs), average_ranks(ys)), None


def trend(points: Iterable[RunPoint], region: str) -> Trend:
    """Exposure against soreness in `region`, over runs that have both."""
    pairs = [(p.exposure.rate, p.score(region)) for p in points]
    both = [(x, y) for x, y in pairs if x is not None and y is not None]
    rho, reason = spearman([x for x, _ in both], [float(y) for _, y in both])
    return Trend(region, rho, len(both), reason)


def trends(points: Sequence[RunPoint]) -> dict[str, Trend]:
    return {region: trend(points, region) for region in REGIONS}


# --- drills ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillDay:
    day: date
    planned: tuple[str, ...]
    """Empty when the day is not planned (before the database existed, or after today)."""
    done: frozenset[str]

    @property
    def is_planned(self) -> bool:
        return bool(self.planned)

    @property
    def complete(self) -> bool | None:
        """Every planned drill done; None for a day that is not planned."""
        return set(self.planned) <= self.done if self.planned else None

    @property
    def done_planned(self) -> int:
        return len(set(self.planned) & self.done)


def is_planned_day(day: date, first_day: date | None, today: date) -> bool:
    """Days are planned from the database's first day up to today."""
    return (first_day is None or day >= first_day) and day <= today


def drill_days(
    days: Sequence[date],
    drills: Iterable[DrillDone],
    zone: tzinfo,
    first_day: date | None,
    today: date,
    plan: Callable[[date], tuple[str, ...]],
) -> list[DrillDay]:
    """Planned and done drills per local day; `plan(day)` gives that day's checklist."""
    done: dict[date, set[str]] = {}
    for d in drills:
        done.setdefault(local_day(d.at, zone), set()).add(d.drill)
    return [
        DrillDay(day, plan(day) if is_planned_day(day, first_day, today) else (), frozenset(done.get(day, ())))
        for day in days
    ]


def adherence(days: Iterable[DrillDay]) -> float | None:
    """Days with every planned drill done / days planned; no planned day → None."""
    planned = [d for d in days if d.is_planned]
    return sum(bool(d.complete) for d in planned) / len(planned) if planned else None


def streak(complete: Callable[[date], bool | None], today: date) -> int:
    """Consecutive complete days ending today or yesterday (a day not yet complete today does not
    break it). `complete(day)` is None for an unplanned day, which ends the count."""
    day = today if complete(today) else today - timedelta(days=1)
    count = 0
    while complete(day):
        count += 1
        day -= timedelta(days=1)
    return count


# --- circuits and runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CircuitFigures:
    planned_days: tuple[date, ...]
    done: tuple[Circuit, ...]


def circuit_figures(
    days: Sequence[date], circuits: Iterable[Circuit], zone: tzinfo, circuit_days: Iterable[int],
    first_day: date | None, today: date,
) -> CircuitFigures:
    """Circuits planned on the configured weekdays (0 = Monday) from the first day to today, and done."""
    weekdays = set(circuit_days)
    wanted = set(days)
    planned = tuple(d for d in days if d.weekday() in weekdays and is_planned_day(d, first_day, today))
    return CircuitFigures(planned, tuple(c for c in circuits if local_day(c.at, zone) in wanted))


@dataclass(frozen=True)
class RegionSoreness:
    runs: int
    """Runs of the week with a score for this region in the 24 h after."""
    mean: float | None
    max: int | None


def region_soreness(points: Iterable[RunPoint]) -> dict[str, RegionSoreness]:
    points = list(points)
    out = {}
    for region in REGIONS:
        scores = [s for s in (p.score(region) for p in points) if s is not None]
        out[region] = RegionSoreness(len(scores), sum(scores) / len(scores) if scores else None,
                                     max(scores) if scores else None)
    return out


@dataclass(frozen=True)
class RunTotals:
    count: int
    distance_km: float
    duration: timedelta


def run_totals(runs: Iterable[Run]) -> RunTotals:
    runs = list(runs)
    return RunTotals(len(runs), sum(r.distance_km for r in runs), sum((r.duration for r in runs), timedelta()))


def points_in(points: Sequence[RunPoint], start: datetime, end: datetime) -> list[RunPoint]:
    """Run points whose run starts in [start, end); `points` must be sorted by start."""
    starts = [p.run.start for p in points]
    return list(points[bisect_left(starts, start):bisect_left(starts, end)])


# --- a week's totals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekTotals:
    """Every figure of one local ISO week, from records that cover at least that week."""

    week: str
    days: tuple[date, ...]
    checkins: CheckinFigures
    drills: tuple[DrillDay, ...]
    circuits: CircuitFigures
    runs: tuple[RunPoint, ...]

    @property
    def adherence(self) -> float | None:
        return adherence(self.drills)

    @property
    def run_totals(self) -> RunTotals:
        return run_totals(p.run for p in self.runs)

    @property
    def soreness(self) -> dict[str, RegionSoreness]:
        return region_soreness(self.runs)


def week_totals(
    year: int, week: int, *, checkins: Iterable[CheckIn], drills: Iterable[DrillDone],
    circuits: Iterable[Circuit], points: Sequence[RunPoint], zone: tzinfo, first_day: date | None,
    today: date, plan: Callable[[date], tuple[str, ...]], circuit_days: Iterable[int],
) -> WeekTotals:
    """The week's figures; the inputs may hold records outside the week (they are filtered)."""
    days = week_days(year, week)
    start, end = week_bounds(year, week, zone)
    return WeekTotals(
        iso_week(days[0]),
        tuple(days),
        checkin_figures(checkins, days, zone),
        tuple(drill_days(days, drills, zone, first_day, today, plan)),
        circuit_figures(days, circuits, zone, circuit_days, first_day, today),
        tuple(points_in(points, start, end)),
    )
