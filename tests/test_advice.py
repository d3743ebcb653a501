"""The recovery rules as pure functions: hand-built histories, real zones, a DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from posture_agent.domain import advice as rules
from posture_agent.domain.records import History, ProtocolEnd, Run, Soreness

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ICE = (time(12, 30), time(20, 30))


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def evaluate(history: History, now: datetime, zone: ZoneInfo = BERLIN, threshold: int = 3) -> rules.Advice:
    return rules.evaluate(history, threshold=threshold, ice_times=ICE, now=now, zone=zone)


def run(id: str, start: datetime) -> Run:
    return Run(id, start, timedelta(hours=1), 10.0)


def test_sore_after_the_last_run_gives_the_next_day_as_rest() -> None:
    r1 = run("r1", at(BERLIN, 2026, 11, 24, 7))
    report = Soreness("s1", at(BERLIN, 2026, 11, 24, 10), mid_back=3, run_id="r1")
    advice = evaluate(History(runs=(r1,), soreness=(report,)), at(BERLIN, 2026, 11, 24, 12))
    assert advice.rest_days == (date(2026, 11, 25),)
    # the day after, the rest day is today; the day after that, it is gone
    assert evaluate(History(runs=(r1,), soreness=(report,)), at(BERLIN, 2026, 11, 25, 8)).rest_on(date(2026, 11, 25))
    assert evaluate(History(runs=(r1,), soreness=(report,)), at(BERLIN, 2026, 11, 26, 8)).rest_days == ()


def test_below_threshold_or_about_an_older_run_gives_no_rest_day() -> None:
    r1, r2 = run("r1", at(BERLIN, 2026, 11, 22, 7)), run("r2", at(BERLIN, 2026, 11, 24, 7))
    mild = Soreness("s1", at(BERLIN, 2026, 11, 24, 10), upper_back=2, run_id="r2")
    stale = Soreness("s2", at(BERLIN, 2026, 11, 24, 11), upper_back=8, run_id="r1")
    unlinked = Soreness("s3", at(BERLIN, 2026, 11, 24, 12), upper_back=8)
    history = History(runs=(r1, r2), soreness=(mild, stale, unlinked))
    assert evaluate(history, at(BERLIN, 2026, 11, 24, 13)).rest_days == ()
    # a higher threshold in the config makes 3 not sore
    sore3 = Soreness("s4", at(BERLIN, 2026, 11, 24, 10), upper_back=3, run_id="r2")
    assert evaluate(History(runs=(r2,), soreness=(sore3,)), at(BERLIN, 2026, 11, 24, 13), threshold=4).rest_days == ()


def test_lower_back_adds_pelvic_tilts_for_fourteen_local_days() -> None:
    report = Soreness("s1", at(BERLIN, 2026, 10, 20, 23, 30), lower_back=5)  # 21:30 UTC, Berlin's 20th
    history = History(soreness=(report,))
    # the plan of a day is the one in force when it began: the tilts join on the 21st, for 14 days
    assert evaluate(history, at(BERLIN, 2026, 10, 21, 9)).pelvic_tilts_until == date(2026, 11, 3)
    days = [date(2026, 10, 20) + timedelta(days=i) for i in range(16)]
    on = [d for d in days if rules.pelvic_tilts_on(history, 3, BERLIN, d)]
    assert on == days[1:15]
    assert evaluate(history, at(BERLIN, 2026, 11, 4, 9)).pelvic_tilts_until is None


def test_si_protocol_lasts_fourteen_days_across_a_dst_change() -> None:
    """Berlin leaves summer time on 2026-10-25: the protocol is 14 x 24 h from the report, and the
    local day on which they run out is still a no-running day (running again the day after)."""
    report = Soreness("s1", at(BERLIN, 2026, 10, 20, 18), si_joint=4)
    history = History(soreness=(report,))
    p = evaluate(history, at(BERLIN, 2026, 10, 26, 9)).si_protocol
    assert p is not None
    assert p.day == 7 and p.ends == at(BERLIN, 2026, 11, 4, 0) and p.ice_times == ICE
    assert p.running_again == date(2026, 11, 4) and p.days == 15 and p.because == report
    assert evaluate(history, report.at + timedelta(days=14)).si_protocol is not None
    assert evaluate(history, at(BERLIN, 2026, 11, 3, 23, 59)).si_protocol is not None
    assert evaluate(history, at(BERLIN, 2026, 11, 4, 0)).si_protocol is None
    assert not evaluate(history, at(BERLIN, 2026, 10, 26, 9)).running_ok


def test_si_pain_said_by_the_user_starts_the_protocol_and_a_new_report_restarts_it() -> None:
    first = Soreness("s1", at(NEW_YORK, 2026, 10, 28, 8), si_pain_reported=True)
    again = Soreness("s2", at(NEW_YORK, 2026, 11, 5, 8), si_joint=6)
    history = History(soreness=(first, again))
    p = evaluate(history, at(NEW_YORK, 2026, 11, 6, 8), zone=NEW_YORK).si_protocol
    assert p is not None and p.started == again.at and p.day == 2


def test_ending_the_protocol_early_ends_it_until_a_new_report() -> None:
    report = Soreness("s1", at(BERLIN, 2026, 11, 10, 8), si_joint=5)
    ended = ProtocolEnd("e1", at(BERLIN, 2026, 11, 15, 8))
    history = History(soreness=(report,), protocol_ends=(ended,))
    assert evaluate(history, at(BERLIN, 2026, 11, 14, 8)).si_protocol is not None
    assert evaluate(history, at(BERLIN, 2026, 11, 16, 8)).si_protocol is None
    later = Soreness("s2", at(BERLIN, 2026, 11, 17, 8), si_joint=5)
    history = History(soreness=(report, later), protocol_ends=(ended,))
    assert evaluate(history, at(BERLIN, 2026, 11, 18, 8)).si_protocol is not None


def test_messages_always_end_with_not_medical_advice_and_never_dose() -> None:
    report = Soreness("s1", at(BERLIN, 2026, 11, 20, 8), si_joint=5, lower_back=5)
    advice = evaluate(History(soreness=(report,)), at(BERLIN, 2026, 11, 21, 8))
    lines = rules.messages(advice, BERLIN)
    assert lines[-1] == rules.NOT_MEDICAL_ADVICE
    assert any("ask a pharmacist or doctor" in line for line in lines)
    assert not any(unit in " ".join(lines) for unit in (" mg", "tablet", "ibuprofen"))
    assert rules.messages(evaluate(History(), at(BERLIN, 2026, 11, 21, 8)), BERLIN)[0].startswith("Nothing special")


def test_advice_lines_say_what_is_in_force_and_why() -> None:
    """One line per rule in force, naming the report behind it; a rest day inside the protocol is
    not said twice; a report with lower back 0 adds no pelvic-tilt line."""
    run_ = run("r1", at(BERLIN, 2026, 12, 7, 9))
    earlier = Soreness("s0", at(BERLIN, 2026, 12, 4, 20), lower_back=4)
    si = Soreness("s1", at(BERLIN, 2026, 12, 7, 17, 57), upper_back=5, lower_back=0, si_joint=6, run_id="r1")
    lines = rules.messages(evaluate(History(runs=(run_,), soreness=(earlier, si)), si.at), BERLIN)
    assert lines == [
        "SI-joint protocol, day 1 of 15 (SI joint 6/10 on Mon 07 Dec): no running; your first running day "
        "is Tue 22 Dec. Keep doing the drills and the circuit.",
        "Ice the SI joint for 15-20 minutes, daily at 12:30 and 20:30.",
        rules.MEDICATION_NOTE,
        "Pelvic tilts are in your daily drills until Fri 18 Dec: your lower back was 4/10 on Fri 04 Dec.",
        rules.NOT_MEDICAL_ADVICE,
    ]
    # a sore lower back today: the tilts join tomorrow's drills (a day's plan is the one it began with)
    today = Soreness("s3", at(BERLIN, 2026, 12, 7, 18), lower_back=5)
    [tilts] = [x for x in rules.messages(evaluate(History(soreness=(today,)), today.at), BERLIN) if "Pelvic" in x]
    assert tilts == ("Pelvic tilts are in your daily drills from tomorrow (Tue 08 Dec) until Mon 21 Dec: "
                     "your lower back was 5/10 on Mon 07 Dec.")
    sore = Soreness("s2", at(BERLIN, 2026, 12, 7, 12), upper_back=5, mid_back=2, lower_back=0, run_id="r1")
    lines = rules.messages(evaluate(History(runs=(run_,), soreness=(sore,)), sore.at), BERLIN)
    assert lines == [
        "Extra rest day tomorrow (Tue 08 Dec): your back was sore (upper back 5/10) after your last run. "
        "Running again from Wed 09 Dec.",
        rules.NOT_MEDICAL_ADVICE,
    ]
