"""The recovery rules of PRODUCT.md §2.5, as pure functions of the records, the settings and the time.

- a sore back region in the report linked to the last run → the next day is an extra rest day;
- a sore lower back → pelvic tilts join the daily drills for 14 days;
- a sore SI joint (or "SI joint pain" said by the user) → the SI protocol: no running for 14 days
  from that report, ice reminders every day of it, drills go on; the user may end it early.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from posture_agent.domain.days import day_bounds
from posture_agent.domain.records import REGIONS, History, Soreness

PROTOCOL_DAYS = 14
PELVIC_TILT_DAYS = 14
LOOKBACK = timedelta(days=PROTOCOL_DAYS + 1)
"""How far back a report can still matter: callers load this much history."""

NOT_MEDICAL_ADVICE = (
    "This is not medical advice. Pain that is sharp, radiating, or still there after two weeks "
    "needs a doctor or physiotherapist."
)
MEDICATION_NOTE = (
    "Anti-inflammatory medication can help with pain and swelling: ask a pharmacist or doctor "
    "whether it suits you."
)


@dataclass(frozen=True)
class SiProtocol:
    started: datetime
    ends: datetime
    """When running may resume: the start of `running_again` (unless ended early)."""
    day: int
    """Day N of `days`, counted in local days from the report's day (day 1)."""
    ice_times: tuple[time, ...]
    running_again: date | None = None
    """The first local day on which running is fine again."""
    days: int = PROTOCOL_DAYS + 1
    """Local days without running: the report's day and the 14 days after it."""
    because: Soreness | None = None
    """The report that started it."""


@dataclass(frozen=True)
class Advice:
    now: datetime
    rest_days: tuple[date, ...]
    """Extra rest days from today on."""
    pelvic_tilts_until: date | None
    """Last local day on which pelvic tilts are in the drills."""
    si_protocol: SiProtocol | None
    rest_because: tuple[Soreness, ...] = ()
    """The sore reports behind `rest_days`, in the same order."""
    tilts_because: Soreness | None = None
    """The latest report with a sore lower back behind `pelvic_tilts_until`."""
    threshold: int = 3
    """What "sore" meant (≥ this, of 10) when the advice was made."""

    def rest_on(self, day: date) -> bool:
        return day in self.rest_days

    @property
    def running_ok(self) -> bool:
        return self.si_protocol is None


def is_sore(report: Soreness, threshold: int, regions: tuple[str, ...] = REGIONS) -> bool:
    return any((report.region(name) or 0) >= threshold for name in regions)


def si_starts(history: History, threshold: int) -> list[datetime]:
    return [
        s.at for s in history.soreness
        if s.si_pain_reported or (s.si_joint is not None and s.si_joint >= threshold)
    ]


def running_again(started: datetime, zone: tzinfo) -> date:
    """The first local day on which running is fine again after an SI report at `started`: the day
    after the one on which its 14 days run out, so that no day is "no running until 17:57"."""
    last = (started + timedelta(days=PROTOCOL_DAYS) - timedelta(microseconds=1)).astimezone(zone).date()
    return last + timedelta(days=1)


def active_protocol(
    history: History, threshold: int, now: datetime, zone: tzinfo | None = None
) -> tuple[datetime, datetime] | None:
    """(start, end) of the SI protocol running at `now`, if any: the latest SI report restarts it.
    With `zone` it ends when `running_again` begins; without, 14 days to the minute after the report."""
    starts = [at for at in si_starts(history, threshold) if at <= now]
    if not starts:
        return None
    start = max(starts)
    end = start + timedelta(days=PROTOCOL_DAYS)
    if zone is not None:
        end = day_bounds(running_again(start, zone), zone)[0]
    if now >= end:
        return None
    if any(start <= e.at <= now for e in history.protocol_ends):
        return None
    return start, end


def linked_to_last_run(report: Soreness, history: History) -> bool:
    """True when the report is about the most recent run before it."""
    if report.run_id is None:
        return False
    before = [run for run in history.runs if run.start <= report.at]
    return bool(before) and max(before, key=lambda run: run.start).id == report.run_id


def evaluate(
    history: History, *, threshold: int, ice_times: tuple[time, ...], now: datetime, zone: tzinfo
) -> Advice:
    """What applies at `now`, from the reports made up to `now`."""
    today = now.astimezone(zone).date()
    reports = [s for s in history.soreness if s.at <= now]
    rest = rest_reasons(reports, history, threshold, zone)
    lower = [s for s in reports if (s.lower_back or 0) >= threshold]
    tilts_report = max(lower, key=lambda s: s.at) if lower else None
    tilts_until = None
    if tilts_report is not None:
        last = tilts_report.at.astimezone(zone).date() + timedelta(days=PELVIC_TILT_DAYS)
        tilts_until = last if last >= today else None
    protocol = None
    window = active_protocol(history, threshold, now, zone)
    if window:
        start, end = window
        first = start.astimezone(zone).date()
        again = running_again(start, zone)
        because = next((s for s in reports if s.at == start), None)
        protocol = SiProtocol(start, end, (today - first).days + 1, ice_times, again, (again - first).days, because)
    days = tuple(d for d in sorted(rest) if d >= today)
    return Advice(
        now, days, tilts_until, protocol, tuple(rest[d] for d in days), tilts_report if tilts_until else None,
        threshold,
    )


def run_warning(
    history: History, *, threshold: int, zone: tzinfo, start: datetime, end: datetime
) -> str | None:
    """Why a run from `start` to `end` should not have been run, or None: it falls in the SI
    protocol or on an extra rest day. Names the rule and the first day running is fine again."""
    window = active_protocol(history, threshold, end, zone) or active_protocol(history, threshold, start, zone)
    if window is not None and end > window[0]:
        again = running_again(window[0], zone)
        return (
            f"Saved, but this run falls in the SI-joint protocol (SI joint sore on "
            f"{window[0].astimezone(zone):%a %d %b}: no running for two weeks). Running again from {again:%a %d %b}."
        )
    rest = rest_days(history, threshold, zone)
    day = start.astimezone(zone).date()
    if day not in rest:
        return None
    return (
        f"Saved, but {day:%a %d %b} is an extra rest day (your back was sore after your last run). "
        f"Running again from {after_rest(day, rest):%a %d %b}."
    )


def after_rest(day: date, rest: Collection[date]) -> date:
    """The first day after `day` that is not an extra rest day."""
    again = day + timedelta(days=1)
    while again in rest:
        again += timedelta(days=1)
    return again


def rest_days(history: History, threshold: int, zone: tzinfo) -> set[date]:
    """Extra rest days: the day after a sore report about the last run before it."""
    return set(rest_reasons(history.soreness, history, threshold, zone))


def rest_reasons(
    reports: Iterable[Soreness], history: History, threshold: int, zone: tzinfo
) -> dict[date, Soreness]:
    """Each extra rest day and the (latest) sore report about the last run that made it one."""
    rest: dict[date, Soreness] = {}
    for s in sorted(reports, key=lambda s: s.at):
        if is_sore(s, threshold) and linked_to_last_run(s, history):
            rest[s.at.astimezone(zone).date() + timedelta(days=1)] = s
    return rest


def messages(advice: Advice, zone: tzinfo) -> list[str]:
    """The advice in words, for the command line, the tray and the report: one line per rule in
    force, each saying why (which report, when) and, for running, the first day it is fine again."""
    today = advice.now.astimezone(zone).date()
    lines = []
    p = advice.si_protocol
    if p:
        again = p.running_again or running_again(p.started, zone)
        ice = " and ".join(t.strftime("%H:%M") for t in p.ice_times)
        why = _because(advice.threshold, p.because, p.started, zone, "si_joint")
        lines.append(
            f"SI-joint protocol, day {p.day} of {p.days} ({why}): no running; your first running day is "
            f"{_day(again, today)}. Keep doing the drills and the circuit."
        )
        lines.append(f"Ice the SI joint for 15-20 minutes, daily at {ice}.")
        lines.append(MEDICATION_NOTE)
    else:
        again = today
    for day, report in zip(advice.rest_days, advice.rest_because or (None,) * len(advice.rest_days), strict=True):
        if day < again:
            continue  # no running on it anyway: the protocol's line says so
        why = _because(advice.threshold, report, None, zone, None)
        lines.append(
            f"Extra rest day {_day(day, today)}: {why} after your last run. "
            f"Running again from {_day(after_rest(day, advice.rest_days), today)}."
        )
    if advice.pelvic_tilts_until:
        report = advice.tilts_because
        why = _because(advice.threshold, report, None, zone, "lower_back")
        first = report.at.astimezone(zone).date() + timedelta(days=1) if report is not None else today
        since = f"from {_day(first, today)} " if first > today else ""
        lines.append(
            f"Pelvic tilts are in your daily drills {since}until {advice.pelvic_tilts_until:%a %d %b}: {why}."
        )
    if not lines:
        lines.append("Nothing special today: keep running with good posture and do your drills.")
    lines.append(NOT_MEDICAL_ADVICE)
    return lines


def _day(day: date, today: date) -> str:
    """"today (Mon 07 Dec)", "tomorrow (Tue 08 Dec)" or "Wed 09 Dec"."""
    when = {today: "today", today + timedelta(days=1): "tomorrow"}.get(day)
    return f"{when} ({day:%a %d %b})" if when else f"{day:%a %d %b}"


def _because(
    threshold: int, report: Soreness | None, started: datetime | None, zone: tzinfo, region: str | None
) -> str:
    """Why a rule applies, from the report behind it: "SI joint 6/10 on Mon 07 Dec", "your upper back
    was 5/10"; only the region the rule is about (or, for a rest day, every sore one)."""
    if report is None:
        return f"SI joint pain on {started.astimezone(zone):%a %d %b}" if started else "your back was sore"
    on = f"{report.at.astimezone(zone):%a %d %b}"
    if region == "si_joint":
        scored = report.si_joint is not None and report.si_joint >= threshold
        return f"{f'SI joint {report.si_joint}/10' if scored else 'SI joint pain'} on {on}"
    if region is not None:
        return f"your {region.replace('_', ' ')} was {report.region(region)}/10 on {on}"
    sore = [name for name in REGIONS if (report.region(name) or 0) >= threshold]
    scores = [f"{name.replace('_', ' ')} {report.region(name)}/10" for name in sore]
    return f"your back was sore ({', '.join(scores)})"


def pelvic_tilts_on(history: History, threshold: int, zone: tzinfo, day: date) -> bool:
    """Whether pelvic tilts are planned on `day`: a sore lower back reported in the 14 days before it
    began (a day's plan is the one in force when it began, so a report joins them from the next day)."""
    return day in pelvic_tilt_days(history.soreness, threshold, zone)


def pelvic_tilt_days(reports: Iterable[Soreness], threshold: int, zone: tzinfo) -> frozenset[date]:
    """Every local day with pelvic tilts in the plan: the 14 days after each sore lower back."""
    return frozenset(
        s.at.astimezone(zone).date() + timedelta(days=i)
        for s in reports if (s.lower_back or 0) >= threshold
        for i in range(1, PELVIC_TILT_DAYS + 1)
    )
