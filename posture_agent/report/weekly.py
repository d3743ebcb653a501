"""The weekly summary: loads only the records a run of weeks needs (through the store's indexed range
queries, so a week costs the same on ten years of history as on one week) and assembles the figures
of `domain.figures` with the advice that applied."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import days as cal
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain import habits as hb
from posture_agent.domain import plan as planner
from posture_agent.domain import records as r
from posture_agent.domain.drills import PELVIC_TILT, DrillPlan
from posture_agent.domain.records import History
from posture_agent.domain.sources import by_source
from posture_agent.store import queries as q
from posture_agent.store import tables as t
from posture_agent.store.db import Store

T = TypeVar("T")
RUN_LOOKBACK = rules.LOOKBACK + timedelta(days=3)
"""Runs before a soreness report that the rest-day rule may look at (a run ends ≤ 24 h before)."""


@dataclass(frozen=True)
class AdviceWeek:
    """The advice that applied on each day of the week, and its words at the week's end (or now)."""

    rest_days: tuple[date, ...]
    pelvic_tilt_days: tuple[date, ...]
    si_protocol_days: tuple[date, ...]
    as_of: datetime
    messages: tuple[str, ...]
    in_force: rules.Advice | None = None
    """The rules' result at `as_of` (what `messages` says), for the page's top cards."""


@dataclass(frozen=True)
class Applied:
    """The days of one week on which each rule applied (as `AdviceWeek`, without the words)."""

    rest_days: tuple[date, ...]
    pelvic_tilt_days: tuple[date, ...]
    si_protocol_days: tuple[date, ...]


PATTERN_WEEKS = 12
"""The weeks over which the page shows slouching by weekday and by hour."""


@dataclass(frozen=True)
class WeeklyReport:
    totals: f.WeekTotals
    zone: tzinfo
    generated_at: datetime
    today: date
    first_day: date | None
    streak: int
    streak_as_of: date
    advice: AdviceWeek
    recent: tuple[f.WeekTotals, ...] = ()
    """The weeks up to and including this one (for the HTML charts), oldest first."""
    habits: tuple[hb.HabitFigures, ...] = ()
    """One row per drill, the circuit and all drills together, at the end of `streak_as_of`."""
    best_streak: int = 0
    drills_from: date | None = None
    circuits_from: date | None = None
    history: tuple[f.DrillDay, ...] = ()
    """Every day from the drills' first planned day (or the first shown week) to the week's end."""
    week_habits: tuple[tuple[hb.HabitFigures, ...], ...] = ()
    """The habit rows at the end of each week of `recent` (up to today)."""
    applied: tuple[Applied, ...] = ()
    """What the rules applied on each week of `recent`."""
    by_weekday: tuple[tuple[int, int], ...] = ()
    """(answered, slouched) per weekday over the `PATTERN_WEEKS` weeks ending with this one."""
    by_hour: tuple[tuple[int, int], ...] = ()
    """(answered, slouched) per hour of `figures.WORKING_HOURS`, over the same weeks."""


@dataclass(frozen=True)
class HabitInputs:
    """What the habit figures read: the whole drill and circuit history up to the week shown."""

    drills_from: date | None
    circuits_from: date | None
    drills: tuple[r.DrillDone, ...]
    circuits: tuple[r.Circuit, ...]
    plan: DrillPlan
    rest_days: frozenset[date]


def all_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def habit_rows(settings: Settings, inputs: HabitInputs, days: Sequence[f.DrillDay], as_ofs: Sequence[date],
               today: date, zone: tzinfo) -> list[tuple[hb.HabitFigures, ...]]:
    """At the end of each of `as_ofs`: each drill's row (the configured ones, and pelvic tilts once
    they were ever planned), all drills together, and the circuit's; `days` are the drill days from
    the drills' first day."""
    columns = []
    names = list(settings.daily_drills)
    if any(PELVIC_TILT in d.planned for d in days) and PELVIC_TILT not in names:
        names.append(PELVIC_TILT)
    for name in names:
        marks = [hb.Mark(d.day, float(name in d.done), name in d.done) for d in days if name in d.planned]
        columns.append(hb.figures_at(name, "days", 1.0, marks, as_ofs, marks[0].day if marks else None, today))
    everything = [hb.Mark(d.day, d.done_planned / len(d.planned), bool(d.complete)) for d in days if d.planned]
    columns.append(hb.figures_at("all-drills", "days", 1.0, everything, as_ofs, inputs.drills_from, today))
    frequency = len(settings.circuit_days) / 7
    if inputs.circuits_from is not None and frequency:
        wanted = set(settings.circuit_days)
        planned = [d for d in all_days(inputs.circuits_from, today)
                   if d.weekday() in wanted and d not in inputs.rest_days]
        done = [cal.local_day(c.at, zone) for c in inputs.circuits]
        columns.append(hb.circuit_figures_at(planned, done, inputs.circuits_from, as_ofs, frequency, today))
    return [tuple(column[i] for column in columns) for i in range(len(as_ofs))]


def applied_weeks(settings: Settings, history: History, weeks: Sequence[f.WeekTotals], inputs: HabitInputs,
                  zone: tzinfo, now: datetime) -> tuple[Applied, ...]:
    """Per week, the days on which an extra rest day, pelvic tilts and the SI protocol applied (the
    protocol as at the end of each day, as `advice_week` evaluates it)."""
    out = []
    for week in weeks:
        days = [d for d in week.days if cal.day_bounds(d, zone)[0] <= now]
        si = [d for d in days if rules.active_protocol(
            history, settings.soreness_threshold, min(now, cal.day_bounds(d, zone)[1] - timedelta(microseconds=1)))]
        out.append(Applied(tuple(d for d in days if d in inputs.rest_days),
                           tuple(d for d in days if PELVIC_TILT in inputs.plan(d)), tuple(si)))
    return tuple(out)


def advice_week(
    settings: Settings, history: History, days: tuple[date, ...], zone: tzinfo, now: datetime,
    plan: DrillPlan | None = None,
) -> AdviceWeek:
    """Evaluates the rules at the end of each day of the week (or now, for today); pelvic tilts are
    the days whose drill plan holds them (`plan`)."""
    rest, tilts, si = [], [], []
    as_of = now
    plan = plan or DrillPlan.of(settings.daily_drills, history.soreness, settings.soreness_threshold, zone)
    for day in days:
        end = cal.day_bounds(day, zone)[1] - timedelta(microseconds=1)
        at = min(end, now)
        if at < cal.day_bounds(day, zone)[0]:
            break
        advice = rules.evaluate(history, threshold=settings.soreness_threshold, ice_times=settings.ice_times,
                                now=at, zone=zone)
        as_of = at
        if advice.rest_on(day):
            rest.append(day)
        if PELVIC_TILT in plan(day):
            tilts.append(day)
        if advice.si_protocol is not None:
            si.append(day)
    final = rules.evaluate(history, threshold=settings.soreness_threshold, ice_times=settings.ice_times,
                           now=as_of, zone=zone)
    return AdviceWeek(tuple(rest), tuple(tilts), tuple(si), as_of, tuple(rules.messages(final, zone)), final)


def load_habits(s: Connection, settings: Settings, zone: tzinfo, end: datetime) -> HabitInputs:
    """Each habit's first planned day and its whole history up to `end` (one row per tick)."""
    created = q.created_at(s)
    drills_from = f.habit_first_day(created, q.first_at(s, t.drill_completions), settings.drill_time, zone)
    circuits_from = f.habit_first_day(created, q.first_at(s, t.circuits), settings.circuit_time, zone)
    firsts = [d for d in (drills_from, circuits_from) if d is not None]
    start = cal.day_bounds(min(firsts), zone)[0] if firsts else end
    sore = q.soreness(s, start - RUN_LOOKBACK, end)
    runs = q.runs(s, start - RUN_LOOKBACK, end)
    plan = DrillPlan.of(settings.daily_drills, sore, settings.soreness_threshold, zone)
    rest = planner.rest_days(History(runs=tuple(runs), soreness=tuple(sore)), settings.soreness_threshold, zone)
    return HabitInputs(drills_from, circuits_from, tuple(q.drills(s, start, end)), tuple(q.circuits(s, start, end)),
                       plan, frozenset(rest))


def build_report(store: Store, settings: Settings, now: datetime, year: int, week: int, weeks: int = 1,
                 source: str = "all") -> WeeklyReport:
    """The report of ISO week `year`-W`week`; with `weeks` > 1 also the totals of the weeks before it;
    check-ins of `source` (domain/sources.py)."""
    zone = settings.zone()
    today = cal.local_day(now, zone)
    monday = date.fromisocalendar(year, week, 1)
    first_monday = monday - timedelta(weeks=weeks - 1)
    span_start = cal.day_bounds(first_monday, zone)[0]
    end = cal.week_bounds(year, week, zone)[1]
    with store.transaction() as s:
        created = q.created_at(s)
        habits = load_habits(s, settings, zone, end)
        checkins = by_source(q.checkins(s, span_start - ex.EXPOSURE_WINDOW, end), source)
        runs = q.runs(s, span_start - RUN_LOOKBACK, end)
        soreness = q.soreness(s, span_start - RUN_LOOKBACK, end + r.MAX_RUN_DURATION + ex.SORENESS_WINDOW)
        ends = q.protocol_ends(s, span_start - rules.LOOKBACK, end)
    history = History(runs=tuple(runs), soreness=tuple(soreness), protocol_ends=tuple(ends), first_day=created)
    span_runs = [r for r in runs if r.start >= span_start]
    points = ex.run_points(span_runs, ex.AnswerIndex(checkins), ex.SorenessIndex(soreness))
    by_time = {name: [x.at for x in rows] for name, rows in
               (("checkins", checkins), ("drills", habits.drills), ("circuits", habits.circuits))}

    def within(name: str, rows: Sequence[T], start: datetime, stop: datetime) -> Sequence[T]:
        """The records of [start, stop) of a list sorted by time: each week reads only its own."""
        times = by_time[name]
        return rows[bisect_left(times, start):bisect_left(times, stop)]

    recent = []
    for i in range(weeks):
        year_week = (first_monday + timedelta(weeks=i)).isocalendar()[:2]
        start, stop = cal.week_bounds(*year_week, zone)
        recent.append(f.week_totals(
            *year_week, checkins=within("checkins", checkins, start, stop),
            drills=within("drills", habits.drills, start, stop),
            circuits=within("circuits", habits.circuits, start, stop),
            points=points, zone=zone, first_day=habits.drills_from, today=today, plan=habits.plan,
            circuit_days=settings.circuit_days, circuits_from=habits.circuits_from, rest_days=habits.rest_days,
        ))
    totals = recent[-1]
    as_of = min(today, totals.days[-1])
    first = min(habits.drills_from or first_monday, first_monday)
    days = tuple(f.drill_days(all_days(first, totals.days[-1]), habits.drills, zone, habits.drills_from, today,
                              habits.plan))
    as_ofs = [min(today, w.days[-1]) for w in recent]
    week_habits = habit_rows(settings, habits, days, as_ofs, today, zone)
    rows = week_habits[-1]
    whole_day = next(h for h in rows if h.name == "all-drills")
    advice = advice_week(settings, history, totals.days, zone, now, habits.plan)
    applied = applied_weeks(settings, history, recent, habits, zone, now) if weeks > 1 else ()
    pattern_start = cal.day_bounds(monday - timedelta(weeks=PATTERN_WEEKS - 1), zone)[0]
    by_weekday, by_hour = f.slouch_by_weekday_and_hour(checkins, pattern_start, end, zone)
    starts = [d for d in (habits.drills_from, habits.circuits_from, created and cal.local_day(created, zone)) if d]
    return WeeklyReport(totals, zone, now, today, min(starts, default=None), whole_day.current_streak, as_of,
                        advice, tuple(recent), rows, whole_day.best_streak, habits.drills_from, habits.circuits_from,
                        days, tuple(week_habits), applied, tuple(by_weekday), tuple(by_hour))


# --- JSON -----------------------------------------------------------------------------------------


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def habit_json(h: hb.HabitFigures) -> dict[str, Any]:
    return {
        "habit": h.name, "unit": h.unit, "frequency": round(h.frequency, 4), "first_day": _iso(h.first_day),
        "planned": h.planned, "kept": h.kept, "current_streak": h.current_streak, "best_streak": h.best_streak,
        "score": _rate(h.score), "score_week_before": _rate(h.score_before),
    }


def counts_json(c: f.CheckinCounts) -> dict[str, Any]:
    return {
        "answered": c.answered, "upright": c.upright, "slouched": c.slouched, "standing": c.standing,
        "skipped": c.skipped, "missed": c.missed, "slouch_rate": _rate(c.slouch_rate),
    }


def point_json(p: ex.RunPoint, zone: tzinfo) -> dict[str, Any]:
    sore = p.soreness
    return {
        "id": p.run.id,
        "start": p.run.start.astimezone(zone).isoformat(timespec="seconds"),
        "distance_km": round(p.run.distance_km, 3),
        "duration_s": round(p.run.duration.total_seconds()),
        "exposure": _rate(p.exposure.rate),
        "exposure_checkins": p.exposure.answered,
        "soreness": None if sore is None else {
            "at": sore.at.astimezone(zone).isoformat(timespec="seconds"),
            **{region: sore.region(region) for region in ("upper_back", "mid_back", "lower_back", "si_joint")},
            "form": [flag for flag in r.FORM_FLAGS if flag in sore.form],
        },
    }


def totals_json(t: f.WeekTotals, zone: tzinfo) -> dict[str, Any]:
    runs = t.run_totals
    return {
        "week": t.week,
        "from": t.days[0].isoformat(),
        "to": t.days[-1].isoformat(),
        "checkins": {
            **counts_json(t.checkins.total),
            "by_context": {ctx: counts_json(c) for ctx, c in t.checkins.by_context.items()},
            "by_day": [
                {"date": day.isoformat(), **{ctx: counts_json(c) for ctx, c in per.items()}}
                for day, per in t.checkins.by_day.items()
            ],
        },
        "drills": {
            "days_planned": sum(d.is_planned for d in t.drills),
            "days_complete": sum(bool(d.complete) for d in t.drills),
            "adherence": _rate(t.adherence),
            "planned": sum(len(d.planned) for d in t.drills),
            "done": sum(d.done_planned for d in t.drills),
            "days": [
                {"date": d.day.isoformat(), "planned": list(d.planned), "done": sorted(d.done), "complete": d.complete}
                for d in t.drills
            ],
        },
        "circuits": {
            "planned": len(t.circuits.planned_days),
            "done": len(t.circuits.done),
            "planned_days": [d.isoformat() for d in t.circuits.planned_days],
            "done_at": [c.at.astimezone(zone).isoformat(timespec="seconds") for c in t.circuits.done],
        },
        "runs": {
            "count": runs.count,
            "distance_km": round(runs.distance_km, 3),
            "duration_s": round(runs.duration.total_seconds()),
            "items": [point_json(p, zone) for p in t.runs],
        },
        "soreness_after_runs": {
            region: {"runs": s.runs, "mean": None if s.mean is None else round(s.mean, 2), "max": s.max}
            for region, s in t.soreness.items()
        },
    }


def report_json(report: WeeklyReport) -> dict[str, Any]:
    zone = report.zone
    a = report.advice
    data = totals_json(report.totals, zone)
    data["drills"]["streak"] = report.streak
    data["drills"]["streak_as_of"] = report.streak_as_of.isoformat()
    data["drills"]["best_streak"] = report.best_streak
    return {
        "version": 1,
        "zone": str(zone),
        "generated_at": report.generated_at.astimezone(zone).isoformat(timespec="seconds"),
        "today": report.today.isoformat(),
        "first_day": report.first_day.isoformat() if report.first_day else None,
        "drills_from": _iso(report.drills_from),
        "circuits_from": _iso(report.circuits_from),
        **data,
        "habits": {
            "as_of": report.streak_as_of.isoformat(),
            "rows": [habit_json(h) for h in report.habits],
        },
        "advice": {
            "rest_days": [d.isoformat() for d in a.rest_days],
            "pelvic_tilt_days": [d.isoformat() for d in a.pelvic_tilt_days],
            "si_protocol_days": [d.isoformat() for d in a.si_protocol_days],
            "as_of": a.as_of.astimezone(zone).isoformat(timespec="seconds"),
            "messages": list(a.messages),
        },
    }
