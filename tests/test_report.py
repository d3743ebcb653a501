"""`report` and `trends` through the command line on real SQLite files: a hand-built week, weeks
across daylight-saving changes, a synthetic history checked against an independent computation
(raw SQL + scipy), and refusals that leave the database untouched."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from scipy.stats import spearmanr

from benchmarks.synthetic import write as write_synthetic
from posture_agent.clock import FixedClock
from tests.conftest import Cli

BERLIN = ZoneInfo("Europe/Berlin")


def set_created(home: Path, when: datetime) -> None:
    """Pretend the database was set up on `when` (days before it are not planned)."""
    conn = sqlite3.connect(home / "data" / "posture-agent.db")
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'created_at'", (when.astimezone(UTC).isoformat(),))
    conn.close()


def hand_built_week(cli: Cli) -> None:
    """Berlin, week 2026-W48 (Mon 23 .. Sun 29 Nov), today Wednesday 25 Nov 12:00."""
    for args in [
        ("checkin", "slouched", "--at", "2026-11-22T23:30"),  # Sunday before: exposure only
        ("checkin", "slouched", "--context", "car", "--at", "2026-11-23T09:05"),
        ("checkin", "slouched", "--at", "2026-11-23T10:00"),
        ("checkin", "upright", "--at", "2026-11-23T11:00"),
        ("checkin", "skipped", "--context", "sofa", "--at", "2026-11-23T20:00"),
        ("checkin", "standing", "--at", "2026-11-24T10:00"),
        ("checkin", "slouched", "--context", "sofa", "--at", "2026-11-24T20:30"),
        ("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-21T07:30"),
        ("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-22T07:30"),
        ("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-23T07:30"),
        ("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-24T07:30"),
        ("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-24T07:00"),
        ("soreness", "--upper-back", "4", "--lower-back", "3", "--at", "2026-11-24T10:00"),
        ("drill", "done", "pelvic-tilt", "--at", "2026-11-24T19:00"),
        ("circuit", "done", "--at", "2026-11-24T18:30"),
        ("drill", "done", "wall-alignment", "--at", "2026-11-25T07:30"),
    ]:
        cli.ok(*args)
    set_created(cli.home, datetime(2026, 11, 1, 9, 0, tzinfo=BERLIN))


def test_weekly_report_json_counts_a_hand_built_week(cli: Cli) -> None:
    hand_built_week(cli)
    data: Any = cli.ok("report", "--json").json()
    assert data["week"] == "2026-W48" and data["from"] == "2026-11-23" and data["zone"] == "Europe/Berlin"
    c = data["checkins"]
    assert (c["answered"], c["slouched"], c["skipped"], c["missed"]) == (5, 3, 1, 0)
    assert c["slouch_rate"] == 0.6
    assert c["by_context"]["desk"]["slouch_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["by_context"]["car"]["slouch_rate"] == 1.0
    assert c["by_context"]["sofa"]["answered"] == 1
    wednesday = c["by_day"][2]
    assert wednesday["date"] == "2026-11-25" and wednesday["desk"]["slouch_rate"] is None
    d = data["drills"]
    # Mon, Tue complete (the sore lower back of Tue 10:00 adds pelvic tilts from Wed: Tue stays 2 of 2,
    # done at 07:30); Wed one of three
    assert (d["days_planned"], d["days_complete"], d["planned"], d["done"]) == (3, 2, 7, 5)
    assert d["adherence"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["streak"] == 4  # Tue, Mon, and the Sat and Sun before; today not done yet
    assert d["days"][1]["planned"] == ["wall-alignment", "chin-tuck"]
    assert d["days"][2]["planned"] == ["wall-alignment", "chin-tuck", "pelvic-tilt"]
    assert d["days"][5]["complete"] is None  # Saturday is still to come
    assert (data["circuits"]["planned"], data["circuits"]["done"]) == (1, 1)
    runs = data["runs"]
    assert (runs["count"], runs["distance_km"], runs["duration_s"]) == (1, 10.0, 3000)
    item = runs["items"][0]
    assert (item["exposure"], item["exposure_checkins"]) == (0.75, 4)
    assert item["soreness"]["upper_back"] == 4 and item["soreness"]["mid_back"] is None
    assert data["soreness_after_runs"]["lower_back"] == {"runs": 1, "mean": 3.0, "max": 3}
    advice = data["advice"]
    assert advice["rest_days"] == ["2026-11-25"]
    assert advice["pelvic_tilt_days"] == ["2026-11-25"]
    assert advice["si_protocol_days"] == []
    assert any("not medical advice" in m for m in advice["messages"])


def test_weekly_report_text_says_the_same(cli: Cli) -> None:
    hand_built_week(cli)
    out = cli.ok("report").out
    assert "Week 2026-W48" in out
    assert "5 answered, 0 missed, 1 skipped" in out
    assert "60% overall" in out and "desk 33% (3)" in out
    assert "adherence 67%" in out and "streak 4 days" in out
    assert "1 done of 1 planned" in out
    assert "exposure 75% (4 check-ins)" in out
    assert "Extra rest day today" in out


def test_a_past_week_counts_its_own_days_and_streak(cli: Cli) -> None:
    hand_built_week(cli)
    data: Any = cli.ok("report", "--week", "2026-W47", "--json").json()
    assert data["week"] == "2026-W47"
    assert data["checkins"]["answered"] == 1  # the Sunday-night check-in
    assert data["drills"]["days_complete"] == 2 and data["drills"]["days_planned"] == 7
    assert (data["drills"]["streak"], data["drills"]["streak_as_of"]) == (2, "2026-11-22")  # Sat and Sun
    assert data["runs"]["count"] == 0


def test_history_typed_in_before_the_database_existed_is_planned(cli: Cli) -> None:
    hand_built_week(cli)
    set_created(cli.home, datetime(2026, 11, 24, 8, 0, tzinfo=BERLIN))
    data: Any = cli.ok("report", "--json").json()
    d = data["drills"]
    assert data["first_day"] == "2026-11-21"  # the first record's day, before the install
    assert (d["days_planned"], d["days_complete"]) == (3, 2)  # Mon, Tue (complete) and Wed
    assert d["streak"] == 4


def test_days_before_the_install_without_history_are_not_planned(cli: Cli) -> None:
    cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-24T09:00")
    set_created(cli.home, datetime(2026, 11, 24, 8, 0, tzinfo=BERLIN))  # after the 07:30 drills were due
    data: Any = cli.ok("report", "--json").json()
    d = data["drills"]
    assert data["first_day"] == "2026-11-24"
    # the install day counts because the drills' own first record is on it (done after the install)
    assert (d["days_planned"], d["days_complete"], d["streak"]) == (2, 1, 1)  # Tue done, Wed not yet


@pytest.mark.parametrize(
    ("zone", "clock_at", "week", "inside", "outside"),
    [
        # Berlin: clocks go back on Sun 25 Oct 2026 (week 43)
        ("Europe/Berlin", "2026-10-28T12:00", "2026-W43", ["2026-10-25T23:30", "2026-10-19T00:00"],
         ["2026-10-26T00:30", "2026-10-18T23:59"]),
        # New York: clocks go back on Sun 1 Nov 2026 (week 44)
        ("America/New_York", "2026-11-04T12:00", "2026-W44", ["2026-11-01T23:30", "2026-10-26T00:00"],
         ["2026-11-02T00:30", "2026-10-25T23:59"]),
        # Berlin: clocks go forward on Sun 29 Mar 2026 (week 13)
        ("Europe/Berlin", "2026-04-01T12:00", "2026-W13", ["2026-03-29T23:30", "2026-03-23T00:00"],
         ["2026-03-30T00:30", "2026-03-22T23:59"]),
        # New York: clocks go forward on Sun 8 Mar 2026 (week 10)
        ("America/New_York", "2026-03-11T12:00", "2026-W10", ["2026-03-08T23:30", "2026-03-02T00:00"],
         ["2026-03-09T00:30", "2026-03-01T23:59"]),
    ],
)
def test_weeks_are_local_weeks_across_dst(
    cli: Cli, clock: FixedClock, zone: str, clock_at: str, week: str, inside: list[str], outside: list[str]
) -> None:
    (cli.home / "config.toml").write_text(f'[general]\ntimezone = "{zone}"\n', encoding="utf-8")
    clock.at = datetime.fromisoformat(clock_at).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    for at in inside:
        cli.ok("checkin", "slouched", "--at", at)
    for at in outside:
        cli.ok("checkin", "upright", "--at", at)
    data: Any = cli.ok("report", "--week", week, "--json").json()
    assert data["zone"] == zone
    assert (data["checkins"]["answered"], data["checkins"]["slouch_rate"]) == (2, 1.0)
    per_day = {d["date"]: d["desk"]["answered"] for d in data["checkins"]["by_day"]}
    assert per_day[data["to"]] == 1 and per_day[data["from"]] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--week", "2026-W60"), "is not an ISO week"),
        (("report", "--week", "last week"), "is not an ISO week"),
        (("report", "--week", "2027-W02"), "has not started yet"),
        (("report", "--html", "no-such-folder/report.html"), "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli.ok("checkin", "upright", "--at", "2026-11-24T10:00")
    before = cli.db_dump()
    result = cli(*args)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    assert cli.db_dump() == before


def test_report_on_an_empty_database_gives_nulls_not_zeros(cli: Cli) -> None:
    data: Any = cli.ok("report", "--json").json()
    assert data["checkins"]["slouch_rate"] is None
    assert data["checkins"]["by_context"]["car"]["slouch_rate"] is None
    assert data["runs"]["count"] == 0 and data["runs"]["items"] == []
    assert data["soreness_after_runs"]["upper_back"]["mean"] is None
    trends: Any = cli.ok("trends", "--json").json()
    for period in ("all_history", "last_12_weeks"):
        for region in ("upper_back", "mid_back", "lower_back", "si_joint"):
            t = trends[period]["regions"][region]
            assert t["rho"] is None and t["n"] == 0 and "only 0 runs" in t["reason"]
    text = cli.ok("trends").out
    assert "Upper back: not enough to say yet (only 0 runs with both figures" in text
    assert "not a cause" in text


def test_text_and_json_reports_never_import_matplotlib(home: Path) -> None:
    """Charts cost a third of a second of imports: only --html may pay for them."""
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    code = (
        "import io, sys\n"
        "from posture_agent.cli import main\n"
        f"for args in (['report'], ['report', '--json'], ['trends'], ['trends', '--json']):\n"
        f"    assert main(['--home', {str(home)!r}, *args], out=io.StringIO()) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- a synthetic history against an independent computation --------------------------------------


Raw = tuple[list[tuple[datetime, str]], list[tuple[datetime, datetime]], list[tuple[Any, ...]]]


def raw_records(db: Path) -> Raw:
    """The records read with plain SQL, not through the store."""

    def t(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    conn = sqlite3.connect(db)
    checkins = [(t(a), p) for a, p in conn.execute("SELECT at, posture FROM checkins")]
    runs = [(t(s), t(s) + timedelta(seconds=d)) for s, d in conn.execute("SELECT start, duration_s FROM runs")]
    sore = [(t(a), u, m, lo, si) for a, u, m, lo, si in conn.execute(
        "SELECT at, upper_back, mid_back, lower_back, si_joint FROM soreness_reports")]
    conn.close()
    return checkins, runs, sore


def independent_trend(db: Path, since: datetime | None, now: datetime) -> dict[str, tuple[float | None, int]]:
    checkins, runs, sore = raw_records(db)
    out: dict[str, tuple[float | None, int]] = {}
    pairs: dict[int, list[tuple[float, int]]] = {i: [] for i in range(4)}
    for start, end in runs:
        if (since and start < since) or start > now:
            continue
        answered = [p for at, p in checkins if start - timedelta(hours=48) <= at < start
                    and p in ("upright", "slouched", "standing")]
        if len(answered) < 3:
            continue
        exposure = answered.count("slouched") / len(answered)
        after = sorted(s for s in sore if end <= s[0] <= end + timedelta(hours=24))
        if not after:
            continue
        for i in range(4):
            if after[0][i + 1] is not None:
                pairs[i].append((exposure, after[0][i + 1]))
    for i, region in enumerate(("upper_back", "mid_back", "lower_back", "si_joint")):
        xs, ys = [x for x, _ in pairs[i]], [y for _, y in pairs[i]]
        constant = len(set(xs)) < 3 or len(set(ys)) < 3  # too little variation
        rho = None if len(xs) < 8 or constant else float(spearmanr(xs, ys).statistic)
        out[region] = (rho, len(xs))
    return out


def test_trends_match_scipy_on_a_synthetic_history(cli: Cli, clock: FixedClock) -> None:
    write_synthetic(cli.home, date(2026, 5, 1), date(2026, 11, 25), seed=5, until=clock.now())
    data: Any = cli.ok("trends", "--json").json()
    db = cli.home / "data" / "posture-agent.db"
    since = datetime(2026, 9, 7, tzinfo=BERLIN).astimezone(UTC)  # Monday of the 12th week back
    for period, start in (("all_history", None), ("last_12_weeks", since)):
        expected = independent_trend(db, start, clock.now())
        for region, (rho, n) in expected.items():
            got = data[period]["regions"][region]
            assert got["n"] == n, (period, region)
            if rho is None:
                assert got["rho"] is None and got["reason"]
            else:
                assert got["rho"] == pytest.approx(rho, abs=1e-4), (period, region)
    assert data["last_12_weeks"]["from"] == "2026-09-07"
    assert data["all_history"]["regions"]["upper_back"]["rho"] > 0.3  # the generator builds a link in
    text = cli.ok("trends").out
    assert "Upper back: at least a " in text and "not a cause" in text


def test_weekly_counts_match_plain_sql_on_a_synthetic_history(cli: Cli, clock: FixedClock) -> None:
    write_synthetic(cli.home, date(2026, 9, 1), date(2026, 11, 25), seed=9, until=clock.now())
    data: Any = cli.ok("report", "--week", "2026-W44", "--json").json()
    checkins, runs, _ = raw_records(cli.home / "data" / "posture-agent.db")
    days = {date(2026, 10, 26) + timedelta(days=i) for i in range(7)}
    mine = [p for at, p in checkins if at.astimezone(BERLIN).date() in days]
    answered = [p for p in mine if p in ("upright", "slouched", "standing")]
    assert data["checkins"]["answered"] == len(answered)
    assert data["checkins"]["missed"] == mine.count("missed")
    assert data["checkins"]["slouch_rate"] == pytest.approx(answered.count("slouched") / len(answered), abs=1e-4)
    assert data["runs"]["count"] == sum(s.astimezone(BERLIN).date() in days for s, _ in runs)


def test_a_long_streak_reaches_back_beyond_the_week(cli: Cli, clock: FixedClock) -> None:
    """The streak walks back through older weeks (loaded in chunks) until the first incomplete day."""
    from posture_agent.config import load_settings
    from posture_agent.journal import Journal
    from posture_agent.store.db import open_store

    cli.ok("checkin", "upright", "--at", "2026-11-25T09:00")
    set_created(cli.home, datetime(2026, 6, 1, 8, 0, tzinfo=BERLIN))
    store = open_store(cli.home / "data" / "posture-agent.db")
    journal = Journal(store, load_settings(cli.home / "config.toml"), clock)
    today = date(2026, 11, 25)
    for back in range(1, 131):  # 130 complete days up to yesterday; the day before them: half done
        at = datetime.combine(today - timedelta(days=back), datetime.min.time(), BERLIN) + timedelta(hours=7)
        journal.record_drills(["wall-alignment"] if back == 130 else ["wall-alignment", "chin-tuck"], at=at)
    store.close()
    data: Any = cli.ok("report", "--json").json()
    assert data["drills"]["streak"] == 129
    assert data["drills"]["days_complete"] == 2 and data["drills"]["days_planned"] == 3


def few_runs_with_one_odd_score(cli: Cli, last_score: int) -> list[tuple[float, int]]:
    """Eight runs three days apart (1..22 Nov), each after three evening check-ins, SI-joint scores
    of 0s and 1s and `last_score` after the last; two older runs in June without any check-ins."""
    slouched = [0, 0, 1, 1, 2, 2, 3, 3]
    scores = [0, 0, 0, 1, 0, 1, 1, last_score]  # with a 6 last: rho +0.72 over 8, as a user saw
    for day in (10, 20):
        cli.ok("run", "add", "--distance-km", "6", "--duration", "35:00", "--at", f"2026-06-{day}T07:00")
    for k, (bad, score) in enumerate(zip(slouched, scores, strict=True)):
        run_day = date(2026, 11, 1) + timedelta(days=3 * k)
        eve = run_day - timedelta(days=1)
        for i, minute in enumerate(("20:00", "20:30", "21:00")):
            cli.ok("checkin", "slouched" if i < bad else "upright", "--at", f"{eve}T{minute}")
        cli.ok("run", "add", "--distance-km", "8", "--duration", "45:00", "--at", f"{run_day}T07:00")
        cli.ok("soreness", "--si-joint", str(score), "--at", f"{run_day}T09:00")
    return [(b / 3, s) for b, s in zip(slouched, scores, strict=True)]


def test_trends_give_a_wide_interval_not_a_strong_link_for_one_odd_score(cli: Cli) -> None:
    pairs = few_runs_with_one_odd_score(cli, 6)
    data: Any = cli.ok("trends", "--json").json()
    si = data["last_12_weeks"]["regions"]["si_joint"]
    rho = float(spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic)
    half = 1.959964 * (1.06 / (8 - 3)) ** 0.5  # Fisher z, Fieller's variance for Spearman
    lo, hi = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
    assert si["n"] == 8 and si["rho"] == pytest.approx(rho, abs=1e-4) and rho > 0.7
    assert si["ci95"] == pytest.approx([lo, hi], abs=1e-4) and lo < 0.1
    assert "strong" not in si["summary"] and "no clear link yet" in si["summary"]
    assert "95% CI" in si["summary"]
    text = cli.ok("trends").out
    assert "a strong link" not in text and f"95% CI {lo:+.2f} to {hi:+.2f}, over 8 runs" in text
    # the June runs have no check-ins: all history adds no run to the trend and says so once
    assert data["all_history"]["runs"] == 10 and data["all_history"]["adds_no_runs"] is True
    assert data["last_12_weeks"]["adds_no_runs"] is False
    assert text.count("SI joint:") == 1
    assert "All history (10 runs, since 2026-06-10):\n  No runs with check-ins and scores before the last 12" in text


def test_trends_say_too_little_variation_for_scores_of_only_0_and_1(cli: Cli) -> None:
    few_runs_with_one_odd_score(cli, 1)
    si: Any = cli.ok("trends", "--json").json()["last_12_weeks"]["regions"]["si_joint"]  # type: ignore[index]
    assert si["rho"] is None and si["ci95"] is None
    assert si["reason"] == "too little variation: the soreness score took only 2 different values"
    assert "SI joint: not enough to say yet (too little variation" in cli.ok("trends").out
