"""The sitting-to-soreness trend over all history and over the last 12 weeks, in figures and in words.

Plain data in (`RunFacts`, read by store/queries.py or, for `trends` alone, store/reads.py), no store:
the `trends` command imports this without SQLAlchemy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from posture_agent.domain import correlation as stats
from posture_agent.domain import days as cal
from posture_agent.domain import exposure as ex
from posture_agent.domain.records import REGIONS

RECENT_WEEKS = 12

CAVEAT = (
    "A correlation is not a cause: days with more slouching may also be the days with longer or "
    "harder runs, less sleep or more stress. Use it as a hint to test on yourself, not as a diagnosis. "
    "This is not medical advice."
)


@dataclass(frozen=True)
class Period:
    name: str
    start: datetime | None
    """None for all history."""
    end: datetime
    points: tuple[ex.RunPoint, ...]
    trends: dict[str, stats.Trend]


@dataclass(frozen=True)
class TrendReport:
    zone: tzinfo
    generated_at: datetime
    all_history: Period
    recent: Period


def region_words(region: str) -> str:
    return {"si_joint": "SI joint"}.get(region, region.replace("_", " "))


def region_title(region: str) -> str:
    name = region_words(region)
    return name[0].upper() + name[1:]


def strength(rho: float) -> str:
    size = abs(rho)
    if size < 0.1:
        return "no clear link"
    if size < 0.3:
        return "a weak link"
    if size < 0.5:
        return "a moderate link"
    return "a strong link"


def describe(t: stats.Trend) -> str:
    """One sentence a runner can read. The words follow the end of the 95% interval nearest zero,
    so a wide interval (few runs, one odd score) never reads as a strong link."""
    name = region_words(t.region)
    title = name[0].upper() + name[1:]
    if t.rho is None or t.ci is None:
        return f"{title}: not enough to say yet ({t.reason})."
    lo, hi = t.ci
    figures = f"rho {t.rho:+.2f}, 95% CI {lo:+.2f} to {hi:+.2f}, over {t.n} runs"
    least = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
    if least < 0.1:
        if max(abs(lo), abs(hi)) < 0.3:
            return (f"{title}: no clear link ({figures}): how much you slouched in the two days "
                    f"before a run made little difference to how your {name} felt afterwards.")
        return (f"{title}: no clear link yet ({figures}): the interval is wide, so these runs cannot "
                f"tell a link from none; more runs with check-ins and scores will.")
    direction = "sorer" if t.rho > 0 else "less sore"
    return (f"{title}: at least {strength(least)} ({figures}): after two days with more slouching, "
            f"your {name} tended to be {direction} after the run.")


TARGET_HALF_WIDTH = 0.2
"""The answer calls a link "sure enough" once its 95% interval is this narrow on Fisher's z scale."""


def runs_for_width(half_width: float = TARGET_HALF_WIDTH) -> int:
    """Runs with both figures for a 95% interval of ±half_width in Fisher's z (about that in rho
    near 0): n = 3 + 1.06 * (1.96 / half_width)^2 = 105 for ±0.2."""
    return 3 + math.ceil(stats.FIELLER_VARIANCE * (stats.Z_95 / half_width) ** 2)


@dataclass(frozen=True)
class Answer:
    """The page's first words: does slouching before runs go with soreness after, for this user?"""

    verdict: str
    how_sure: str
    surer: str
    region: str | None
    runs: int


def answer(period: Period) -> Answer:
    """The plain-words answer over `period`: the region whose link is surest (the end of its 95%
    interval nearest zero farthest from zero), how sure, from how many runs, and what would make it
    surer (more runs with at least 3 check-ins in the 48 h before and a score in the 24 h after)."""
    with_exposure = sum(p.exposure.rate is not None for p in period.points)
    scored = [t for t in period.trends.values() if t.rho is not None and t.ci is not None]
    most = max((t.n for t in period.trends.values()), default=0)
    need = f"at least {ex.EXPOSURE_MIN_CHECKINS} check-ins in the 48 h before and a soreness report within 24 h after"
    if not scored:
        missing = max(0, stats.TREND_MIN_N - most)
        verdict = "Not known yet."
        how = (f"{most} of your {len(period.points)} runs have both the slouching before and the soreness after; "
               f"{stats.TREND_MIN_N} are needed to say anything.")
        if missing:
            surer = f"Log {missing} more run{'s' if missing != 1 else ''} with {need}."
        else:
            reasons = sorted({t.reason for t in period.trends.values() if t.reason})
            surer = f"The scores need more variety ({reasons[0]})." if reasons else "Keep logging runs."
        return Answer(verdict, how, surer, None, most)

    def least(t: stats.Trend) -> float:
        lo, hi = t.ci or (0.0, 0.0)
        return 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))

    best = max(scored, key=lambda t: (least(t), t.n))
    lo, hi = best.ci or (0.0, 0.0)
    name = region_words(best.region)
    more = max(0, runs_for_width() - best.n)
    surer = (f"Log about {more} more runs with {need} to narrow it to about ±0.2." if more
             else "It is already based on many runs; a change in your habits would show over the coming months.")
    how = (f"From {best.n} runs with both figures ({with_exposure} with enough check-ins before): 95% sure the "
           f"link (rho {best.rho:+.2f}) lies between {lo:+.2f} and {hi:+.2f}.")
    if least(best) >= 0.1:
        direction = "sorer" if (best.rho or 0) > 0 else "less sore"
        verdict = (f"Yes, for your {name}: after two days with more slouching it tended to be {direction} "
                   f"after the run (at least {strength(least(best))}).")
        return Answer(verdict, how, surer, best.region, best.n)
    if max(abs(lo), abs(hi)) < 0.3:
        verdict = "No: how much you slouched before a run made little difference to your back after it."
        return Answer(verdict, how, surer, best.region, best.n)
    verdict = "No clear link yet: your runs so far cannot tell a link from none."
    return Answer(verdict, how, surer, best.region, best.n)


def adds_nothing(longer: Period, shorter: Period) -> bool:
    """Whether the longer period's trends use no run beyond the shorter one's (every region the
    same number of runs with both figures): then its figures would only repeat them."""
    return all(longer.trends[r].n == shorter.trends[r].n for r in REGIONS)


def recent_start(now: datetime, zone: tzinfo, weeks: int = RECENT_WEEKS) -> datetime:
    """Monday 00:00 local of the first of the last `weeks` ISO weeks (this week included)."""
    today = cal.local_day(now, zone)
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    return cal.day_bounds(monday, zone)[0]


def build_trends(facts: ex.RunFacts, zone: tzinfo, now: datetime) -> TrendReport:
    """The trends of all history before `now` and of its last RECENT_WEEKS weeks."""
    points = ex.run_points(facts.runs, facts.counts, ex.SorenessIndex(facts.soreness))
    since = recent_start(now, zone)
    recent = ex.points_in(points, since, now + timedelta(microseconds=1))
    return TrendReport(
        zone,
        now,
        Period("all_history", None, now, tuple(points), stats.trends(points)),
        Period(f"last_{RECENT_WEEKS}_weeks", since, now, tuple(recent), stats.trends(recent)),
    )


def _day(at: datetime | None, zone: tzinfo) -> str | None:
    return None if at is None else cal.local_day(at, zone).isoformat()


def period_json(p: Period, zone: tzinfo, adds_no_runs: bool = False) -> dict[str, Any]:
    return {
        "from": _day(p.start, zone) if p.start else (_day(p.points[0].run.start, zone) if p.points else None),
        "to": _day(p.end, zone),
        "runs": len(p.points),
        "runs_with_exposure": sum(pt.exposure.rate is not None for pt in p.points),
        "adds_no_runs": adds_no_runs,
        "regions": {
            region: {
                "rho": None if t.rho is None else round(t.rho, 4),
                "n": t.n,
                "reason": t.reason,
                "ci95": None if t.ci is None else [round(t.ci[0], 4), round(t.ci[1], 4)],
                "summary": describe(t),
            }
            for region, t in p.trends.items()
        },
    }


def trends_json(report: TrendReport) -> dict[str, Any]:
    zone = report.zone
    return {
        "version": 1,
        "zone": str(zone),
        "generated_at": report.generated_at.astimezone(zone).isoformat(timespec="seconds"),
        "method": "Spearman rank correlation (ties get average ranks) between the slouch rate in the 48 h "
                  "before each run (at least 3 answered check-ins) and the first soreness score in the 24 h "
                  "after it, with a 95% confidence interval through Fisher's z (variance 1.06/(n-3)); "
                  "null with a reason when n < 8 or one side has fewer than 3 distinct values.",
        "caveat": CAVEAT,
        "all_history": period_json(report.all_history, zone, adds_nothing(report.all_history, report.recent)),
        f"last_{RECENT_WEEKS}_weeks": period_json(report.recent, zone),
    }


def trends_text(report: TrendReport) -> list[str]:
    lines = ["Does slouching before a run go with a sorer back after it?", ""]
    for title, period in (("All history", report.all_history), (f"Last {RECENT_WEEKS} weeks", report.recent)):
        first = period.start or (period.points[0].run.start if period.points else None)
        span = f"since {cal.local_day(first, report.zone).isoformat()}" if first else "no runs yet"
        lines.append(f"{title} ({len(period.points)} runs, {span}):")
        if period is report.all_history and adds_nothing(period, report.recent):
            lines.append(f"  No runs with check-ins and scores before the last {RECENT_WEEKS} weeks: "
                         f"the same as below.")
        else:
            lines.extend(f"  {describe(period.trends[region])}" for region in REGIONS)
        lines.append("")
    lines.append(CAVEAT)
    return lines

