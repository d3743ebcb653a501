"""The figures of PRODUCT.md §3 against independent computations: brute-force windows, scipy's
Spearman, and hand-built weeks in real time zones including daylight-saving changes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from scipy.stats import rankdata, spearmanr

from posture_agent.domain import correlation as stats
from posture_agent.domain import days as cal
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain.records import CheckIn, Circuit, DrillDone, Run, Soreness

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def ci(at: datetime, posture: str, context: str = "desk") -> CheckIn:
    return CheckIn(f"c{at.timestamp()}{posture}", at.astimezone(UTC), context, posture)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


# --- slouch rate ----------------------------------------------------------------------------------


def test_slouch_rate_leaves_out_skipped_and_missed() -> None:
    at = local(BERLIN, 2026, 11, 23, 10)
    answers = [ci(at, p) for p in ("upright", "slouched", "slouched", "standing", "skipped", "missed", "missed")]
    assert f.slouch_rate(answers) == pytest.approx(2 / 4)
    counts = f.count_checkins(answers)
    assert (counts.answered, counts.skipped, counts.missed) == (4, 1, 2)


def test_no_answered_checkins_gives_null_not_zero() -> None:
    at = local(BERLIN, 2026, 11, 23, 10)
    assert f.slouch_rate([]) is None
    assert f.slouch_rate([ci(at, "skipped"), ci(at, "missed")]) is None
    assert f.count_checkins([ci(at, "missed")]).slouch_rate is None


# --- exposure and soreness windows ----------------------------------------------------------------


def brute_exposure(run: Run, checkins: list[CheckIn]) -> tuple[float | None, int]:
    inside = [c for c in checkins if run.start - timedelta(hours=48) <= c.at < run.start and c.answered]
    rate = sum(c.posture == "slouched" for c in inside) / len(inside) if len(inside) >= 3 else None
    return rate, len(inside)


def test_exposure_window_is_the_48_hours_before_the_start() -> None:
    start = local(BERLIN, 2026, 11, 25, 18)
    run = Run("r1", start, timedelta(minutes=50), 10.0)
    checkins = [
        ci(start - timedelta(hours=48, seconds=1), "slouched"),  # too early
        ci(start - timedelta(hours=48), "slouched"),  # first instant: in
        ci(start - timedelta(hours=30), "upright"),
        ci(start - timedelta(hours=20), "skipped"),  # not an answer
        ci(start - timedelta(minutes=1), "standing"),
        ci(start, "slouched"),  # the start itself: out
    ]
    exposure = ex.exposure_before(run, ex.AnswerIndex(checkins))
    assert exposure.rate == pytest.approx(1 / 3) and exposure.answered == 3
    assert exposure.rate == brute_exposure(run, checkins)[0]


def test_fewer_than_three_checkins_means_no_exposure() -> None:
    start = local(BERLIN, 2026, 11, 25, 18)
    run = Run("r1", start, timedelta(minutes=50), 10.0)
    checkins = [ci(start - timedelta(hours=5), "slouched"), ci(start - timedelta(hours=4), "slouched"),
                ci(start - timedelta(hours=3), "missed")]
    exposure = ex.exposure_before(run, ex.AnswerIndex(checkins))
    assert exposure.rate is None and exposure.answered == 2


def test_exposure_matches_brute_force_on_random_histories() -> None:
    rng = random.Random(7)
    base = local(BERLIN, 2026, 1, 1, 0)
    checkins = [ci(base + timedelta(minutes=rng.randrange(0, 60 * 24 * 60)),
                   rng.choice(("upright", "slouched", "standing", "skipped", "missed"))) for _ in range(800)]
    runs = [Run(f"r{i}", base + timedelta(minutes=rng.randrange(0, 60 * 24 * 60)), timedelta(hours=1), 10.0)
            for i in range(120)]
    index = ex.AnswerIndex(checkins)
    for run in runs:
        exposure = ex.exposure_before(run, index)
        rate, answered = brute_exposure(run, checkins)
        assert exposure.answered == answered
        assert exposure.rate == (pytest.approx(rate) if rate is not None else None)


def test_soreness_after_is_the_first_report_within_24_hours_of_the_end() -> None:
    start = local(BERLIN, 2026, 11, 24, 18)
    run = Run("r1", start, timedelta(hours=1), 10.0)
    end = run.end
    early = Soreness("s0", end - timedelta(minutes=1), upper_back=9)
    first = Soreness("s1", end + timedelta(hours=2), upper_back=4)
    later = Soreness("s2", end + timedelta(hours=14), upper_back=1)
    assert ex.soreness_after(run, ex.SorenessIndex([later, early, first])) == first
    assert ex.soreness_after(run, ex.SorenessIndex([Soreness("s3", end + timedelta(hours=24), mid_back=2)])) is not None
    too_late = Soreness("s4", end + timedelta(hours=24, seconds=1), mid_back=2)
    assert ex.soreness_after(run, ex.SorenessIndex([early, too_late])) is None


# --- Spearman -------------------------------------------------------------------------------------


def test_average_ranks_match_scipy() -> None:
    rng = random.Random(3)
    for _ in range(50):
        values = [float(rng.randint(0, 5)) for _ in range(rng.randint(1, 30))]
        assert stats.average_ranks(values) == pytest.approx(list(rankdata(values)))


def test_spearman_matches_scipy_with_ties() -> None:
    rng = random.Random(11)
    for _ in range(200):
        n = rng.randint(8, 80)
        xs = [rng.choice([0.0, 0.25, 1 / 3, 0.5, 0.75, 1.0]) for _ in range(n)]  # exposure: many ties
        ys = [float(min(10, max(0, round(6 * x + rng.gauss(0, 2))))) for x in xs]  # soreness 0-10
        rho, reason = stats.spearman(xs, ys)
        if len(set(xs)) == 1 or len(set(ys)) == 1:
            assert rho is None and reason
            continue
        expected = spearmanr(xs, ys).statistic
        assert reason is None
        assert rho == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n", [0, 1, 7])
def test_fewer_than_eight_runs_gives_null_with_the_reason(n: int) -> None:
    rho, reason = stats.spearman([i / 10 for i in range(n)], [float(i) for i in range(n)])
    assert rho is None
    assert reason is not None and f"only {n} run" in reason and "8" in reason


def test_constant_data_gives_null_with_the_reason() -> None:
    rho, reason = stats.spearman([0.5] * 10, [float(i) for i in range(10)])
    assert rho is None and reason is not None and "exposure" in reason
    rho, reason = stats.spearman([i / 10 for i in range(10)], [3.0] * 10)
    assert rho is None and reason is not None and "soreness" in reason
    rho, _ = stats.spearman([i / 10 for i in range(8)], [float(i) for i in range(8)])
    assert rho == pytest.approx(1.0)


def test_trend_uses_only_runs_with_both_figures_per_region() -> None:
    base = local(BERLIN, 2026, 6, 1, 18)
    points = []
    for i in range(10):
        run = Run(f"r{i}", base + timedelta(days=2 * i), timedelta(hours=1), 10.0)
        sore = Soreness(f"s{i}", run.end + timedelta(hours=2), upper_back=i, lower_back=None if i % 2 else 2 * i)
        points.append(ex.RunPoint(run, ex.Exposure(i / 10 if i != 3 else None, 5), sore))
    upper = stats.trend(points, "upper_back")
    lower = stats.trend(points, "lower_back")
    assert upper.n == 9 and upper.rho == pytest.approx(1.0)
    assert lower.n == 5 and lower.rho is None and lower.reason is not None


# --- drills, streak, circuits ---------------------------------------------------------------------


def plan_daily(day: date) -> tuple[str, ...]:
    return ("wall-alignment", "chin-tuck")


def drill(at: datetime, name: str) -> DrillDone:
    return DrillDone(f"d{at.timestamp()}{name}", at, name)


def test_adherence_counts_days_with_every_planned_drill_up_to_today() -> None:
    # database created on Tuesday; today is Friday: Tue, Wed, Thu, Fri are planned (4 days)
    days = cal.week_days(2026, 48)
    first, today = days[1], days[4]
    drills = [
        drill(local(BERLIN, 2026, 11, 23, 7, 30), "wall-alignment"),  # Monday: not planned
        drill(local(BERLIN, 2026, 11, 23, 7, 31), "chin-tuck"),
        drill(local(BERLIN, 2026, 11, 24, 7, 30), "wall-alignment"),  # Tuesday: complete
        drill(local(BERLIN, 2026, 11, 24, 7, 31), "chin-tuck"),
        drill(local(BERLIN, 2026, 11, 25, 7, 30), "wall-alignment"),  # Wednesday: half
        drill(local(BERLIN, 2026, 11, 26, 23, 59), "wall-alignment"),  # Thursday, late evening: complete
        drill(local(BERLIN, 2026, 11, 26, 0, 0), "chin-tuck"),
    ]
    result = f.drill_days(days, drills, BERLIN, first, today, plan_daily)
    assert [d.complete for d in result] == [None, True, False, True, False, None, None]
    assert f.adherence(result) == pytest.approx(2 / 4)
    by_day = {d.day: d.complete for d in result}
    # today (Fri) not done yet: the streak counts back from Thursday, and stops at Wednesday
    assert f.streak(lambda d: by_day.get(d), today) == 1


def test_streak_ends_today_or_yesterday_and_stops_at_unplanned_days() -> None:
    today = date(2026, 11, 25)
    complete = {today - timedelta(days=i): True for i in range(5)}
    assert f.streak(complete.get, today) == 5
    complete[today] = False
    assert f.streak(complete.get, today) == 4  # today not done yet: counted up to yesterday
    complete[today - timedelta(days=1)] = False
    assert f.streak(complete.get, today) == 0  # yesterday missed: the streak is broken
    assert f.streak({today: True}.get, today) == 1  # the day before is unplanned (None)


def test_no_planned_day_gives_null_adherence() -> None:
    days = cal.week_days(2026, 40)
    result = f.drill_days(days, [], BERLIN, date(2026, 11, 1), date(2026, 11, 25), plan_daily)
    assert all(not d.is_planned for d in result)
    assert f.adherence(result) is None


def test_circuits_planned_on_configured_weekdays_from_the_first_day_up_to_today() -> None:
    days = cal.week_days(2026, 48)  # Mon 23 .. Sun 29 Nov
    done = [Circuit("c1", local(BERLIN, 2026, 11, 24, 18, 30), 2), Circuit("c0", local(BERLIN, 2026, 11, 22, 18), 2)]
    figures = f.circuit_figures(days, done, BERLIN, {1, 4}, first_day=date(2026, 11, 1), today=date(2026, 11, 25))
    assert figures.planned_days == (date(2026, 11, 24),)  # Friday is still to come
    assert [c.id for c in figures.done] == ["c1"]
    later = f.circuit_figures(days, done, BERLIN, {1, 4}, first_day=date(2026, 11, 25), today=date(2026, 11, 29))
    assert later.planned_days == (date(2026, 11, 27),)  # Tuesday came before the database existed


# --- days in real zones, across daylight-saving changes -------------------------------------------


@pytest.mark.parametrize(
    ("zone", "year", "week", "change_day", "hours"),
    [
        (BERLIN, 2026, 43, date(2026, 10, 25), 25),  # clocks back: a 25-hour Sunday
        (NEW_YORK, 2026, 44, date(2026, 11, 1), 25),
        (BERLIN, 2026, 13, date(2026, 3, 29), 23),  # clocks forward: a 23-hour Sunday
        (NEW_YORK, 2026, 10, date(2026, 3, 8), 23),
    ],
)
def test_week_bounds_follow_local_days_across_dst(
    zone: ZoneInfo, year: int, week: int, change_day: date, hours: int
) -> None:
    start, end = cal.week_bounds(year, week, zone)
    assert end - start == timedelta(days=6, hours=hours)
    day_start, day_end = cal.day_bounds(change_day, zone)
    assert day_end - day_start == timedelta(hours=hours)
    assert start.astimezone(zone).time().hour == 0 and end.astimezone(zone).time().hour == 0


def test_checkins_belong_to_their_local_day_in_a_dst_week() -> None:
    # Berlin, week 2026-W43 (Mon 19 Oct .. Sun 25 Oct, clocks go back at 03:00 on the Sunday)
    sunday_late = datetime(2026, 10, 25, 23, 30, tzinfo=BERLIN)  # 22:30 UTC: still Sunday, this week
    monday_early = datetime(2026, 10, 26, 0, 30, tzinfo=BERLIN)  # 23:30 UTC on Sunday: next week
    twice = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)  # the repeated hour, second time
    monday_start = datetime(2026, 10, 19, 0, 0, tzinfo=BERLIN)  # 22:00 UTC on Sunday the 18th
    checkins = [ci(sunday_late, "slouched", "sofa"), ci(monday_early, "slouched", "sofa"),
                ci(twice, "upright", "sofa"), ci(monday_start, "standing", "desk"),
                ci(monday_start - timedelta(seconds=1), "slouched", "desk")]
    days = cal.week_days(2026, 43)
    figures = f.checkin_figures(checkins, days, BERLIN)
    assert figures.total.answered == 3
    assert figures.by_day[date(2026, 10, 25)]["sofa"].answered == 2
    assert figures.by_day[date(2026, 10, 25)]["sofa"].slouch_rate == pytest.approx(0.5)
    assert figures.by_day[date(2026, 10, 19)]["desk"].standing == 1
    assert figures.by_context["desk"].slouch_rate == 0.0
    start, end = cal.week_bounds(2026, 43, BERLIN)
    inside = [c for c in checkins if start <= c.at < end]  # the same week as a UTC range query
    assert len(inside) == figures.total.answered


def test_week_totals_in_new_york_dst_week() -> None:
    # New York, week 2026-W44 (Mon 26 Oct .. Sun 1 Nov; clocks go back at 02:00 on Sunday 1 Nov)
    run_start = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1)  # the second 01:30 (EST)
    run = Run("r1", run_start.astimezone(UTC), timedelta(minutes=45), 8.0)
    before = [ci(run.start - timedelta(hours=h), p) for h, p in ((1, "slouched"), (10, "upright"), (47, "slouched"))]
    sore = Soreness("s1", run.end + timedelta(hours=23), upper_back=5)
    next_week_run = Run("r2", datetime(2026, 11, 2, 0, 10, tzinfo=NEW_YORK).astimezone(UTC), timedelta(hours=1), 5.0)
    points = ex.run_points([run, next_week_run], ex.AnswerIndex(before), ex.SorenessIndex([sore]))
    totals = f.week_totals(
        2026, 44, checkins=before, drills=[], circuits=[], points=points, zone=NEW_YORK,
        first_day=date(2026, 10, 1), today=date(2026, 11, 5), plan=plan_daily, circuit_days={1, 4},
        circuits_from=date(2026, 10, 1),
    )
    assert [p.run.id for p in totals.runs] == ["r1"]
    assert totals.runs[0].exposure.rate == pytest.approx(2 / 3)
    assert totals.soreness["upper_back"].mean == 5
    assert totals.soreness["mid_back"].mean is None
    assert totals.run_totals.distance_km == 8.0
    assert len(totals.circuits.planned_days) == 2
    assert totals.adherence == 0.0


def test_a_habit_is_planned_from_the_install_or_its_own_first_record() -> None:
    installed = datetime(2026, 11, 24, 19, 47, tzinfo=BERLIN)
    # installed at 19:47: the 07:30 drills and the 18:30 circuit start the next day, a 20:00 one the same day
    assert f.habit_first_day(installed, None, time(7, 30), BERLIN) == date(2026, 11, 25)
    assert f.habit_first_day(installed, None, time(18, 30), BERLIN) == date(2026, 11, 25)
    assert f.habit_first_day(installed, None, time(20, 0), BERLIN) == date(2026, 11, 24)
    # ticked after the install on its day: that day is the habit's own first record's, and counts
    assert f.habit_first_day(installed, installed + timedelta(minutes=9), time(7, 30), BERLIN) == date(2026, 11, 24)
    typed_in = datetime(2026, 11, 10, 7, 40, tzinfo=BERLIN)
    assert f.habit_first_day(installed, typed_in, time(7, 30), BERLIN) == date(2026, 11, 10)
    late = datetime(2026, 12, 1, 7, 40, tzinfo=BERLIN)  # a first record after the install changes nothing
    assert f.habit_first_day(installed, late, time(7, 30), BERLIN) == date(2026, 11, 25)
    assert f.habit_first_day(None, None, time(7, 30), BERLIN) is None


def test_no_circuit_is_planned_on_an_extra_rest_day() -> None:
    days = cal.week_days(2026, 48)
    rest = {date(2026, 11, 24)}
    figures = f.circuit_figures(days, [], BERLIN, {1, 4}, date(2026, 11, 1), date(2026, 11, 29), rest)
    assert figures.planned_days == (date(2026, 11, 27),)
