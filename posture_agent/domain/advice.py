"""The recovery rules of PRODUCT.md §2.5, as pure functions of the records, the settings and the time.

- a sore back region in the report linked to the last run → the next day is an extra rest day;
- a sore lower back → pelvic tilts join the daily drills for 14 days;
- a sore SI joint (or "SI joint pain" said by the user) → the SI protocol: no running for 14 days
  from that report, ice reminders every day of it, drills go on; the user may end it early.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

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
    """When running may resume (14 days after the report), unless ended early."""
    day: int
    """Day N of 14, counted in local days from the report's day."""
    ice_times: tuple[time, ...]


@dataclass(frozen=True)
class Advice:
    now: datetime
    rest_days: tuple[date, ...]
    """Extra rest days from today on."""
    pelvic_tilts_until: date | None
    """Last local day on which pelvic tilts are in the drills."""
    si_protocol: SiProtocol | None

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


def active_protocol(history: History, threshold: int, now: datetime) -> tuple[datetime, datetime] | None:
    """(start, end) of the SI protocol running at `now`, if any: the latest SI report restarts it."""
    starts = [at for at in si_starts(history, threshold) if at <= now]
    if not starts:
        return None
    start = max(starts)
    end = start + timedelta(days=PROTOCOL_DAYS)
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
    rest = sorted(
        {
            s.at.astimezone(zone).date() + timedelta(days=1)
            for s in reports
            if is_sore(s, threshold) and linked_to_last_run(s, history)
        }
    )
    tilts = [
        s.at.astimezone(zone).date() + timedelta(days=PELVIC_TILT_DAYS)
        for s in reports
        if (s.lower_back or 0) >= threshold
    ]
    tilts_until = max(tilts) if tilts and max(tilts) >= today else None
    protocol = None
    window = active_protocol(history, threshold, now)
    if window:
        start, end = window
        day = (today - start.astimezone(zone).date()).days + 1
        protocol = SiProtocol(start, end, day, ice_times)
    return Advice(now, tuple(d for d in rest if d >= today), tilts_until, protocol)


def messages(advice: Advice, zone: tzinfo) -> list[str]:
    """The advice in words, for the command line, the tray and the report."""
    today = advice.now.astimezone(zone).date()
    lines = []
    for day in advice.rest_days:
        when = "today" if day == today else "tomorrow" if day == today + timedelta(1) else f"{day:%a %d %b}"
        dated = f" ({day:%a %d %b})" if when in ("today", "tomorrow") else ""
        lines.append(f"Extra rest day {when}{dated}: your back was sore after your last run.")
    if advice.pelvic_tilts_until:
        lines.append(
            f"Pelvic tilts are in your daily drills until {advice.pelvic_tilts_until:%a %d %b} "
            "(lower back sore)."
        )
    p = advice.si_protocol
    if p:
        last = (p.ends - timedelta(seconds=1)).astimezone(zone)
        ice = ", ".join(t.strftime("%H:%M") for t in p.ice_times)
        lines.append(
            f"SI-joint protocol, day {p.day} of {PROTOCOL_DAYS}: no running until "
            f"{p.ends.astimezone(zone):%a %d %b %H:%M} (last day {last:%a %d %b}). Keep doing the drills."
        )
        lines.append(f"Ice the SI joint for 15-20 minutes, daily at {ice}.")
        lines.append(MEDICATION_NOTE)
    if not lines:
        lines.append("Nothing special today: keep running with good posture and do your drills.")
    lines.append(NOT_MEDICAL_ADVICE)
    return lines


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
