"""The weekly summary as plain text for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from posture_agent.domain.advice import NOT_MEDICAL_ADVICE
from posture_agent.domain.exposure import RunPoint
from posture_agent.domain.habits import HabitFigures
from posture_agent.domain.records import CONTEXTS, FORM_FLAGS
from posture_agent.report.trends import region_words
from posture_agent.report.weekly import AdviceWeek, Applied, WeeklyReport
from posture_agent.timeparse import format_duration

FORM_WORDS = {
    "arms_high": "arms high or tight", "shoulders_tense": "shoulders tense", "swing_too_big": "swing too big",
    "swing_too_small": "swing too small", "arms_crossing": "arms crossing the body",
}


def form_words(point: RunPoint) -> str:
    """The form self-check answered with the soreness after the run, in words."""
    if point.soreness is None:
        return ""
    return ", ".join(FORM_WORDS.get(flag, flag) for flag in FORM_FLAGS if flag in point.soreness.form) or "none noted"


def pct(value: float | None) -> str:
    return "no answers" if value is None else f"{value * 100:.0f}%"


def day_label(day: date) -> str:
    return f"{day:%a %d %b}"


def _span(days: Sequence[date]) -> str:
    """"Wed 25 Nov" or "Wed 25 – Sun 29 Nov" (the days are consecutive or listed)."""
    if not days:
        return ""
    if len(days) > 2 and (days[-1] - days[0]).days == len(days) - 1:
        return f"{days[0]:%a %d} – {day_label(days[-1])}"
    return ", ".join(day_label(d) for d in days)


def applied_lines(applied: Applied | AdviceWeek) -> list[str]:
    """What applied on the days of a week, in words naming those days (never "today")."""
    lines = []
    if applied.rest_days:
        lines.append(f"Extra rest day{'s' if len(applied.rest_days) > 1 else ''}: {_span(applied.rest_days)}.")
    if applied.pelvic_tilt_days:
        lines.append(f"Pelvic tilts in the drills: {_span(applied.pelvic_tilt_days)}.")
    if applied.si_protocol_days:
        lines.append(f"SI-joint protocol (no running, ice): {_span(applied.si_protocol_days)}.")
    return lines or ["No extra rest day, pelvic tilts or SI-joint protocol that week."]


def habit_title(name: str) -> str:
    return {"all-drills": "All drills", "circuit": "Circuit"}.get(name, name)


def score_change(h: HabitFigures) -> str:
    """"▲ 3" / "▼ 5" / "= 0" points over the week, or "" when there was no score a week before."""
    if h.score is None or h.score_before is None:
        return ""
    points = round((h.score - h.score_before) * 100)
    return f"{'▲' if points > 0 else '▼' if points < 0 else '='} {abs(points)}"


def habit_line(h: HabitFigures) -> str:
    unit = h.unit if h.current_streak != 1 else h.unit[:-1]
    score = "not started" if h.score is None else f"score {h.score * 100:.0f}%"
    change = score_change(h)
    return (f"{habit_title(h.name):<16} streak {h.current_streak} {unit} / best {h.best_streak}"
            f" | {score}{f' ({change})' if change else ''} | kept {h.kept} of {h.planned}")


def report_text(report: WeeklyReport) -> list[str]:
    t = report.totals
    zone = report.zone
    c = t.checkins
    upto = "" if report.today > t.days[-1] else f", up to today {day_label(report.today)}"
    lines = [
        f"Week {t.week}: {day_label(t.days[0])} to {day_label(t.days[-1])} {t.days[-1].year} ({zone}{upto})",
        "",
        f"Check-ins     {c.total.answered} answered, {c.total.missed} missed, {c.total.skipped} skipped",
        f"Slouch rate   {pct(c.total.slouch_rate)} overall"
        + "".join(f" | {ctx} {pct(c.by_context[ctx].slouch_rate)} ({c.by_context[ctx].answered})" for ctx in CONTEXTS),
    ]
    planned_days = [d for d in t.drills if d.is_planned]
    lines.append(
        f"Drills        {sum(d.done_planned for d in t.drills)} of {sum(len(d.planned) for d in t.drills)} planned done"
        f" | all done on {sum(bool(d.complete) for d in planned_days)} of {len(planned_days)} days"
        f" | adherence {pct(t.adherence) if t.adherence is not None else 'no planned days'}"
        f" | streak {report.streak} day{'s' if report.streak != 1 else ''}"
        + ("" if report.streak_as_of == report.today else f" (on {report.streak_as_of.isoformat()})")
    )
    lines.append(f"Circuits      {len(t.circuits.done)} done of {len(t.circuits.planned_days)} planned")
    if report.habits:
        lines += ["", f"Habits (as of {day_label(report.streak_as_of)}: streak now / best, habit score as Loop "
                      f"computes it, change over 7 days):"]
        lines.extend(f"  {habit_line(h)}" for h in report.habits)
        lines.append("")
    runs = t.run_totals
    lines.append(
        f"Runs          {runs.count} run{'s' if runs.count != 1 else ''}, {runs.distance_km:.1f} km, "
        f"{format_duration(runs.duration)}"
    )
    if t.runs:
        lines += ["", "Runs of the week (slouch exposure in the 48 h before; first soreness report in the 24 h after):"]
        for p in t.runs:
            exposure = (
                f"exposure {pct(p.exposure.rate)} ({p.exposure.answered} check-ins)"
                if p.exposure.rate is not None else f"no exposure ({p.exposure.answered} check-ins, 3 needed)"
            )
            if p.soreness is None:
                sore = "no soreness report"
            else:
                sore = "soreness " + ", ".join(
                    f"{region_words(k)} {p.score(k)}" for k in ("upper_back", "mid_back", "lower_back", "si_joint")
                    if p.score(k) is not None
                ) + f"; form: {form_words(p)}"
            start = p.run.start.astimezone(zone)
            lines.append(
                f"  {start:%a %d %b %H:%M}  {p.run.distance_km:5.1f} km  {format_duration(p.run.duration):>8}"
                f"  {exposure}; {sore}"
            )
        lines += ["", "Soreness after runs, per region (0-10):"]
        for region, s in t.soreness.items():
            counted = f"{s.runs} run{'s' if s.runs != 1 else ''}"
            figure = "no reports" if s.mean is None else f"mean {s.mean:.1f}, max {s.max} ({counted})"
            lines.append(f"  {region_words(region):<11} {figure}")
    a = report.advice
    if a.as_of < report.generated_at:  # a past week speaks of its own days, never of "today"
        lines += ["", f"What applied that week ({day_label(t.days[0])} to {day_label(t.days[-1])}):"]
        lines.extend(f"  {m}" for m in applied_lines(a))
        lines.append(f"  {NOT_MEDICAL_ADVICE}")
        return lines
    lines += ["", f"Advice now ({a.as_of.astimezone(zone):%a %d %b %H:%M}):"]
    if a.rest_days:
        lines.append("  extra rest days this week: " + ", ".join(day_label(d) for d in a.rest_days))
    if a.pelvic_tilt_days:
        lines.append("  pelvic tilts in the drills on: " + ", ".join(day_label(d) for d in a.pelvic_tilt_days))
    if a.si_protocol_days:
        lines.append("  SI-joint protocol on: " + ", ".join(day_label(d) for d in a.si_protocol_days))
    lines.extend(f"  {m}" for m in a.messages)
    return lines

