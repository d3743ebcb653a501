"""A week's figures of PRODUCT.md §3 (check-ins, drills, circuits, runs and their totals), as pure
functions over plain records.

Kept apart from loading and rendering so each figure can be checked by hand against a hand-built
week. Days are local days in the zone given (domain/days.py); the runs' sitting and soreness figures
are domain/exposure.py's, the trend domain/correlation.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from posture_agent.domain.days import iso_week, local_day, week_bounds, week_days
from posture_agent.domain.exposure import RunPoint, points_in
from posture_agent.domain.plan import wall_time
from posture_agent.domain.records import CONTEXTS, POSTURES, REGIONS, CheckIn, Circuit, DrillDone, Run

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


WORKING_HOURS = tuple(range(7, 20))
"""The hours of the day the page's "by hour" chart draws (07:00 to 19:59 local)."""


def slouch_by_weekday_and_hour(checkins: Iterable[CheckIn], start: datetime, end: datetime, zone: tzinfo,
                               ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(answered, slouched) per weekday (Monday first) and per local hour of `WORKING_HOURS`, over
    answered check-ins in [start, end): where and when slouching happens."""
    weekdays = [[0, 0] for _ in range(7)]
    hours = {h: [0, 0] for h in WORKING_HOURS}
    for c in checkins:
        if c.posture not in POSTURES or not start <= c.at < end:
            continue
        local = c.at.astimezone(zone)
        slouched = c.posture == "slouched"
        weekdays[local.weekday()][0] += 1
        weekdays[local.weekday()][1] += slouched
        if local.hour in hours:
            hours[local.hour][0] += 1
            hours[local.hour][1] += slouched
    return [(a, s) for a, s in weekdays], [(a, s) for a, s in hours.values()]


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
    """Days are planned from the habit's first planned day (`habit_first_day`) up to today."""
    return (first_day is None or day >= first_day) and day <= today


def habit_first_day(installed: datetime | None, first_record: datetime | None, due: time, zone: tzinfo,
                    ) -> date | None:
    """A habit's first planned day (PRODUCT.md §3): the earlier of the install day and the day of the
    habit's own first record (drills typed in with `--at` count; other records plan nothing). The
    install day itself counts only if the habit, due daily at wall time `due`, was still due after
    the install, so nothing due before the install counts against the user on day one."""
    days = []
    if installed is not None:
        day = local_day(installed, zone)
        days.append(day if wall_time(day, due, zone) >= installed else day + timedelta(days=1))
    if first_record is not None:
        days.append(local_day(first_record, zone))
    return min(days, default=None)


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
    first_day: date | None, today: date, rest_days: Collection[date] = frozenset(),
) -> CircuitFigures:
    """Circuits planned on the configured weekdays (0 = Monday) from the first day to today, except
    on extra rest days (the plan does not prompt them either), and done."""
    weekdays = set(circuit_days)
    wanted = set(days)
    planned = tuple(
        d for d in days
        if d.weekday() in weekdays and d not in rest_days and is_planned_day(d, first_day, today)
    )
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
    circuits_from: date | None, rest_days: Collection[date] = frozenset(),
) -> WeekTotals:
    """The week's figures; the inputs may hold records outside the week (they are filtered).
    `first_day` is the drills' first planned day, `circuits_from` the circuits'."""
    days = week_days(year, week)
    start, end = week_bounds(year, week, zone)
    return WeekTotals(
        iso_week(days[0]),
        tuple(days),
        checkin_figures(checkins, days, zone),
        tuple(drill_days(days, drills, zone, first_day, today, plan)),
        circuit_figures(days, circuits, zone, circuit_days, circuits_from, today, rest_days),
        tuple(points_in(points, start, end)),
    )
