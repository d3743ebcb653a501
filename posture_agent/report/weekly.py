"""The weekly summary: loads only the records a run of weeks needs (through the store's indexed range
queries, so a week costs the same on ten years of history as on one week) and assembles the figures
of `domain.figures` with the advice that applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.engine import Connection

from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import days as cal
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain import plan as planner
from posture_agent.domain import records as r
from posture_agent.domain.drills import planned_drills
from posture_agent.domain.records import History
from posture_agent.domain.sources import by_source
from posture_agent.store import queries as q
from posture_agent.store.db import Store

STREAK_CHUNK_DAYS = 56
"""The streak walks back through the drill history this many days per query."""
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


def plan_for(settings: Settings, history: History, zone: tzinfo) -> Callable[[date], tuple[str, ...]]:
    """Today's checklist rule: the configured drills, plus pelvic tilts while a sore lower back is recent."""

    def plan(day: date) -> tuple[str, ...]:
        tilts = rules.pelvic_tilts_on(history, settings.soreness_threshold, zone, day)
        return planned_drills(settings.daily_drills, tilts)

    return plan


class DrillLedger:
    """Whether each day's drills were all done, loading older days in chunks only when the streak
    reaches back to them."""

    def __init__(self, conn: Connection, settings: Settings, zone: tzinfo, first_day: date | None, today: date):
        self.conn, self.settings, self.zone = conn, settings, zone
        self.first_day, self.today = first_day, today
        self.days: dict[date, f.DrillDay] = {}

    def add(self, days: list[f.DrillDay]) -> None:
        self.days.update({d.day: d for d in days})

    def complete(self, day: date) -> bool | None:
        if not f.is_planned_day(day, self.first_day, self.today):
            return None
        if day not in self.days:
            self._load(day - timedelta(days=STREAK_CHUNK_DAYS - 1), day)
        return self.days[day].complete

    def _load(self, first: date, last: date) -> None:
        start, end = cal.day_bounds(first, self.zone)[0], cal.day_bounds(last, self.zone)[1]
        drills = q.drills(self.conn, start, end)
        sore = q.soreness(self.conn, start - rules.LOOKBACK, end)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        plan = plan_for(self.settings, History(soreness=tuple(sore)), self.zone)
        self.add(f.drill_days(days, drills, self.zone, self.first_day, self.today, plan))


def advice_week(
    settings: Settings, history: History, days: tuple[date, ...], zone: tzinfo, now: datetime
) -> AdviceWeek:
    """Evaluates the rules at the end of each day of the week (or now, for today)."""
    rest, tilts, si = [], [], []
    as_of = now
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
        if advice.pelvic_tilts_until is not None and advice.pelvic_tilts_until >= day:
            tilts.append(day)
        if advice.si_protocol is not None:
            si.append(day)
    final = rules.evaluate(history, threshold=settings.soreness_threshold, ice_times=settings.ice_times,
                           now=as_of, zone=zone)
    return AdviceWeek(tuple(rest), tuple(tilts), tuple(si), as_of, tuple(rules.messages(final, zone)), final)


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
        start = f.planned_start(created, q.first_record_at(s), zone)
        first_day = f.first_planned_day(start, settings.drill_time, zone)
        circuits_from = f.first_planned_day(start, settings.circuit_time, zone)
        checkins = by_source(q.checkins(s, span_start - ex.EXPOSURE_WINDOW, end), source)
        drills = q.drills(s, span_start, end)
        circuits = q.circuits(s, span_start, end)
        runs = q.runs(s, span_start - RUN_LOOKBACK, end)
        soreness = q.soreness(s, span_start - RUN_LOOKBACK, end + r.MAX_RUN_DURATION + ex.SORENESS_WINDOW)
        ends = q.protocol_ends(s, span_start - rules.LOOKBACK, end)
        history = History(runs=tuple(runs), soreness=tuple(soreness), protocol_ends=tuple(ends), first_day=created)
        plan = plan_for(settings, history, zone)
        rest = planner.rest_days(history, settings.soreness_threshold, zone)
        span_runs = [r for r in runs if r.start >= span_start]
        points = ex.run_points(span_runs, ex.AnswerIndex(checkins), ex.SorenessIndex(soreness))
        recent = tuple(
            f.week_totals(
                *(first_monday + timedelta(weeks=i)).isocalendar()[:2], checkins=checkins, drills=drills,
                circuits=circuits, points=points, zone=zone, first_day=first_day, today=today, plan=plan,
                circuit_days=settings.circuit_days, circuits_from=circuits_from, rest_days=rest,
            )
            for i in range(weeks)
        )
        totals = recent[-1]
        ledger = DrillLedger(s, settings, zone, first_day, today)
        for t in recent:
            ledger.add(list(t.drills))
        streak_as_of = min(today, totals.days[-1])
        streak = f.streak(ledger.complete, streak_as_of)
    advice = advice_week(settings, history, totals.days, zone, now)
    planned_from = cal.local_day(start, zone) if start else None
    return WeeklyReport(totals, zone, now, today, planned_from, streak, streak_as_of, advice, recent)


# --- JSON -----------------------------------------------------------------------------------------


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


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
    return {
        "version": 1,
        "zone": str(zone),
        "generated_at": report.generated_at.astimezone(zone).isoformat(timespec="seconds"),
        "today": report.today.isoformat(),
        "first_day": report.first_day.isoformat() if report.first_day else None,
        **data,
        "advice": {
            "rest_days": [d.isoformat() for d in a.rest_days],
            "pelvic_tilt_days": [d.isoformat() for d in a.pelvic_tilt_days],
            "si_protocol_days": [d.isoformat() for d in a.si_protocol_days],
            "as_of": a.as_of.astimezone(zone).isoformat(timespec="seconds"),
            "messages": list(a.messages),
        },
    }
