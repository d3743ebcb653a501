"""The agent's day as a pure function: which prompts are due in [start, end), from the settings, the
stored records and the time zone. The running agent and `posture-agent schedule` call the same code,
so what the schedule lists is exactly what the agent shows (pause aside, which is runtime state).

Rules (PRODUCT.md §2):
- check-ins at the desk (work hours) and on the sofa (evening) every N minutes from the window's
  start, while the wall time is before its end (half-open); after the commute at the car times;
  a desk or sofa check-in at the same instant as a car one is dropped (one question at a time);
- the daily drills every day; the strength circuit on its days, except on an extra rest day;
  neither on a day they are already recorded (all of the day's drills done, any circuit logged);
- a soreness prompt `after_run_hours` after each run ends and the next local morning, unless a
  report about that run was already made in between;
- ice reminders at `ice_times` while the SI protocol runs;
- quiet hours drop check-ins and move one-off prompts (drills, circuit, soreness, ice) to the end
  of the quiet range; `weekends_off` drops everything on Saturday and Sunday.
Wall times are built with zoneinfo: a wall time skipped by a DST change moves to the first valid
time after the gap; a repeated wall time (clocks going back) fires once, at its first occurrence.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol

from posture_agent.domain import advice as rules
from posture_agent.domain.drills import Drill, DrillPlan
from posture_agent.domain.records import History, Soreness


@dataclass(frozen=True)
class Window:
    """Check-ins every `every_minutes` from `start` until `end` on `days` (0 = Monday)."""

    days: frozenset[int]
    start: time
    end: time
    every_minutes: int


class Settings(Protocol):
    """What the plan reads of the settings (config.Settings is one): the plan stays pure."""

    @property
    def soreness_threshold(self) -> int: ...
    @property
    def desk(self) -> Window: ...
    @property
    def sofa(self) -> Window: ...
    @property
    def car_days(self) -> frozenset[int]: ...
    @property
    def car_times(self) -> tuple[time, ...]: ...
    @property
    def drill_time(self) -> time: ...
    @property
    def daily_drills(self) -> tuple[str, ...]: ...
    @property
    def circuit_days(self) -> frozenset[int]: ...
    @property
    def circuit_time(self) -> time: ...
    @property
    def circuit_rounds(self) -> int: ...
    @property
    def circuit_exercises(self) -> tuple[str, ...]: ...
    @property
    def catalogue(self) -> Mapping[str, Drill]: ...
    @property
    def soreness_after_run_hours(self) -> float: ...
    @property
    def soreness_next_morning(self) -> time: ...
    @property
    def ice_times(self) -> tuple[time, ...]: ...
    @property
    def quiet_hours(self) -> tuple[tuple[time, time], ...]: ...
    @property
    def weekends_off(self) -> bool: ...


class PromptKind(StrEnum):
    """What a prompt asks for; the values are what the prompts table, the JSON output and the
    control channel carry."""

    CHECKIN = "checkin"
    DRILLS = "drills"
    CIRCUIT = "circuit"
    SORENESS = "soreness"
    ICE = "ice"


KINDS = tuple(PromptKind)
"""In the order prompts due at the same instant are listed."""
CHECKIN_GROUP = PromptKind.CHECKIN
"""Check-ins of every context coalesce together: after a sleep the user gets one, not one per context."""

GRACE = {
    "car": timedelta(minutes=60),
    "drills": timedelta(hours=4),
    "circuit": timedelta(hours=3),
    "soreness": timedelta(hours=4),
    "ice": timedelta(hours=2),
}
"""How late a prompt may still be shown (after a sleep or a restart); desk and sofa check-ins use
their window's interval, since the next one comes by then anyway."""


@dataclass(frozen=True, order=True)
class Prompt:
    """One prompt the agent will show. `due` is in UTC."""

    due: datetime
    kind: PromptKind
    context: str | None = None
    """desk, sofa or car for a check-in."""
    run_id: str | None = None
    """The run a soreness prompt is about."""
    grace: timedelta = timedelta(minutes=30)
    note: str = ""

    @property
    def slot(self) -> str:
        """The `prompts.kind` stored for this prompt; with `due` it is unique, so a prompt shows once."""
        return f"{self.kind}-{self.context}" if self.kind == CHECKIN_GROUP and self.context else str(self.kind)

    def title(self) -> str:
        return {
            PromptKind.CHECKIN: {
                "desk": "Posture check: how are you sitting?",
                "sofa": "Posture check on the sofa",
                "car": "How was your posture on the drive?",
            }.get(self.context or "", "Posture check"),
            PromptKind.DRILLS: "Time for today's alignment drills",
            PromptKind.CIRCUIT: "Back-strength circuit today",
            PromptKind.SORENESS: "How does your back feel after the run?",
            PromptKind.ICE: "Ice the SI joint (15-20 minutes)",
        }[self.kind]

    def message(self, buttons: bool = False) -> str:
        """The notification's body, for a desktop user; `buttons`: it carries the answers as actions."""
        if self.kind == CHECKIN_GROUP:
            if buttons:
                return "Upright, slouched or standing? Press your answer (click here for the window)."
            return "Upright, slouched or standing? Answer in the small window that opened."
        if self.kind == PromptKind.DRILLS:
            return "Tick them off in the checklist that opened (later: Today's drills in the tray menu)."
        if self.kind == PromptKind.CIRCUIT:
            return self.note or "The circuit, twice through: tick it off in the window that opened."
        if self.kind == PromptKind.SORENESS:
            return "Rate upper, mid, lower back and SI joint 0-10 in the window that opened."
        return " ".join(filter(None, ["An ice pack on the SI joint for 15-20 minutes.", self.note]))


def wall_time(day: date, at: time, zone: tzinfo) -> datetime:
    """The instant (UTC) of a local wall time: a skipped one moves to the end of the gap, a repeated
    one is taken at its first occurrence (fold=0)."""
    naive = datetime.combine(day, at)
    probe = naive
    for _ in range(24 * 60 + 1):  # a gap is at most a few hours; walk minute by minute to its end
        local = probe.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == probe:
            return local.astimezone(UTC)
        probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return naive.replace(tzinfo=zone).astimezone(UTC)  # pragma: no cover - no zone has such a gap


def _window_times(start: time, end: time, every_minutes: int) -> Iterator[time]:
    minutes = start.hour * 60 + start.minute
    stop = end.hour * 60 + end.minute
    while minutes < stop:
        yield time(minutes // 60, minutes % 60)
        minutes += every_minutes


def _days(start: datetime, end: datetime, zone: tzinfo) -> Iterator[date]:
    """Local days touching [start, end), one before to catch next-morning prompts."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def rest_days(history: History, threshold: int, zone: tzinfo) -> set[date]:
    """Extra rest days: the day after a sore report about the last run before it."""
    runs = sorted(history.runs, key=lambda run: run.start)
    starts = [run.start for run in runs]

    def about_last_run(report: Soreness) -> bool:  # rules.linked_to_last_run, by bisection for years of runs
        i = bisect_right(starts, report.at)
        return report.run_id is not None and i > 0 and runs[i - 1].id == report.run_id

    return {
        s.at.astimezone(zone).date() + timedelta(days=1)
        for s in history.soreness
        if rules.is_sore(s, threshold) and about_last_run(s)
    }


def _quiet(local: datetime, settings: Settings) -> time | None:
    """The end of the quiet range a local time falls in, or None."""
    at = local.time()
    for start, end in settings.quiet_hours:
        if start <= at < end:
            return end
    return None


def _apply_quiet(prompt: Prompt, settings: Settings, zone: tzinfo) -> Prompt | None:
    """Drop a check-in in quiet hours or at a weekend off; move a one-off prompt past quiet hours."""
    for _ in range(len(settings.quiet_hours) + 1):
        local = prompt.due.astimezone(zone)
        if settings.weekends_off and local.weekday() >= 5:
            return None
        end = _quiet(local, settings)
        if end is None:
            return prompt
        if prompt.kind == CHECKIN_GROUP:
            return None
        moved = wall_time(local.date(), end, zone)
        prompt = Prompt(moved, prompt.kind, prompt.context, prompt.run_id, prompt.grace, prompt.note)
    return None


def exercise_titles(settings: Settings, names: Iterable[str]) -> str:
    """Exercises as the catalogue writes them ("Superman hold"), not their ids ("superman")."""
    return ", ".join(settings.catalogue[n].title if n in settings.catalogue else n for n in names)


def _drills_done(plan: DrillPlan, history: History, zone: tzinfo, day: date) -> bool:
    """Whether every drill of `day`'s checklist is already recorded that day."""
    done = {d.drill for d in history.drills if d.at.astimezone(zone).date() == day}
    return set(plan(day)) <= done


def _candidates(settings: Settings, history: History, zone: tzinfo, days: Iterable[date]) -> Iterator[Prompt]:
    rest = rest_days(history, settings.soreness_threshold, zone)
    circuit_done = {c.at.astimezone(zone).date() for c in history.circuits}
    drills = DrillPlan.of(settings.daily_drills, history.soreness, settings.soreness_threshold, zone)
    for day in days:
        weekday = day.weekday()
        for context, window in (("desk", settings.desk), ("sofa", settings.sofa)):
            if weekday in window.days:
                grace = timedelta(minutes=window.every_minutes)
                for at in _window_times(window.start, window.end, window.every_minutes):
                    yield Prompt(wall_time(day, at, zone), PromptKind.CHECKIN, context, grace=grace)
        if weekday in settings.car_days:
            for at in settings.car_times:
                yield Prompt(wall_time(day, at, zone), PromptKind.CHECKIN, "car", grace=GRACE["car"])
        if not _drills_done(drills, history, zone, day):
            yield Prompt(wall_time(day, settings.drill_time, zone), PromptKind.DRILLS, grace=GRACE["drills"])
        if weekday in settings.circuit_days and day not in rest and day not in circuit_done:
            note = f"{exercise_titles(settings, settings.circuit_exercises)}: {settings.circuit_rounds} rounds."
            due = wall_time(day, settings.circuit_time, zone)
            yield Prompt(due, PromptKind.CIRCUIT, grace=GRACE["circuit"], note=note)
        for at in settings.ice_times:
            due = wall_time(day, at, zone)
            protocol = rules.active_protocol(history, settings.soreness_threshold, due)
            if protocol:
                # the disclaimer once per protocol, on its first reminder, not on all 28
                note = rules.NOT_MEDICAL_ADVICE if due == _first_ice(settings, protocol[0], zone) else ""
                yield Prompt(due, PromptKind.ICE, grace=GRACE["ice"], note=note)
    yield from _soreness(settings, history, zone)


def _first_ice(settings: Settings, start: datetime, zone: tzinfo) -> datetime | None:
    """The protocol's first ice reminder: the first ice time at or after its start."""
    first = start.astimezone(zone).date()
    for day in (first, first + timedelta(days=1)):
        for at in sorted(settings.ice_times):
            due = wall_time(day, at, zone)
            if due >= start:
                return due
    return None


def _soreness(settings: Settings, history: History, zone: tzinfo) -> Iterator[Prompt]:
    after = timedelta(hours=settings.soreness_after_run_hours)
    for run in history.runs:
        about = [s.at for s in history.soreness if s.run_id == run.id]
        due = run.end + after
        if not any(run.end <= at < due for at in about):
            yield Prompt(due, PromptKind.SORENESS, run_id=run.id, grace=GRACE["soreness"], note="after the run")
        morning_day = run.end.astimezone(zone).date() + timedelta(days=1)
        morning = wall_time(morning_day, settings.soreness_next_morning, zone)
        day_start = wall_time(morning_day, time(0), zone)
        if morning > due and not any(day_start <= at < morning for at in about):
            yield Prompt(morning, PromptKind.SORENESS, run_id=run.id, grace=GRACE["soreness"], note="next morning")


def plan(settings: Settings, history: History, zone: tzinfo, start: datetime, end: datetime) -> list[Prompt]:
    """The prompts due in [start, end), in time order, at most one per (slot, due).

    `history` must hold the runs and soreness reports from `start - 15 days` (the SI protocol and
    rest days look back) up to `end`.
    """
    chosen: dict[tuple[str, datetime], Prompt] = {}
    for candidate in _candidates(settings, history, zone, _days(start, end, zone)):
        prompt = _apply_quiet(candidate, settings, zone)
        if prompt is None or not start <= prompt.due < end:
            continue
        chosen.setdefault((prompt.slot, prompt.due), prompt)
    car_times = {p.due for p in chosen.values() if p.context == "car"}
    out = [
        p for p in chosen.values()
        if not (p.kind == CHECKIN_GROUP and p.context != "car" and p.due in car_times)
    ]
    return sorted(out, key=lambda p: (p.due, KINDS.index(p.kind), p.context or ""))


def history_start(start: datetime) -> datetime:
    """How far back `plan` needs records for a plan starting at `start`."""
    return start - rules.LOOKBACK - timedelta(days=2)
