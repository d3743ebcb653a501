"""The prompt service: given the time, it shows what is due, closes what timed out, and says when
it next needs to be woken. It is driven by `tick(now)`, so tests move a clock instead of waiting;
the scheduler only calls it at the right moments.

- Shown prompts are recorded in the `prompts` table (unique kind and due) before anything is
  published, so a restart never repeats one.
- Coalescing: of the prompts of one group (all check-ins; drills; circuit; soreness; ice) that are
  overdue and still within their grace time, only the latest is shown, and none older than one
  already shown. A laptop waking after three check-ins gets one; a clock set back gets none again.
- Presence (docs/presence.md): when something is due, the presence check is read once; while the
  user is away or busy the prompt is held (not recorded, re-checked at the next tick) and shown
  when they are back if it is still within its grace. One that falls out of its grace, or is
  overtaken by a newer prompt of its group, unseen, is stored as `away`.
- A prompt is closed at its deadline (`ends`): a check-in or ice prompt after
  `prompt_timeout_minutes`, the drills and the circuit at the end of their local day (they take a
  while, and stay answerable while the user does them), a soreness question at the next morning's
  soreness time (`soreness.next_morning`), when the next one is asked: the answer can wait hours.
  Closed there as answered or skipped if a matching record was made meanwhile (by any command or
  window), else missed (a check-in stored as `missed`).
- An answer from a window (`answer`, `record_drill`, `record_circuit`, `record_soreness`) is stored
  and closes its prompt in one transaction (`settle`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import TypeVar

from posture_agent.agent.camera_checks import BUSY_REASON, CameraCheckins, slouch_message
from posture_agent.agent.events import (
    CAMERA_SLOUCHED,
    PROMPT_CLOSED,
    PROMPT_DUE,
    STATE_CHANGED,
    ActivePrompt,
    Event,
    EventBus,
)
from posture_agent.agent.journal_port import JournalPort
from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import plan as planner
from posture_agent.domain import records as r
from posture_agent.domain.days import day_bounds
from posture_agent.domain.plan import Prompt, PromptKind
from posture_agent.presence.base import Check, always_present

log = logging.getLogger(__name__)

MAX_GRACE = max([*planner.GRACE.values(), timedelta(hours=8)])
"""How far back a tick looks for overdue prompts (desk/sofa grace is their interval, at most 8 h)."""
LOOKAHEAD = timedelta(days=2)
"""How far ahead the next wake-up is searched; with nothing in it the agent wakes then to look again."""
HELD_RECHECK = timedelta(seconds=30)
"""A prompt whose answer is being saved is looked at again this much later (not closed as missed)."""
UNTIL_END_OF_DAY = frozenset({PromptKind.DRILLS.value, PromptKind.CIRCUIT.value})
"""Groups whose prompts stay open until the end of their local day, not `prompt_timeout_minutes`."""
T = TypeVar("T")


def group_of(slot: str) -> str:
    return slot.split("-", 1)[0]


def next_morning(shown: datetime, at: time, zone: tzinfo) -> datetime:
    """The first local `at` (the next morning's soreness question) after `shown`."""
    day = shown.astimezone(zone).date()
    morning = planner.wall_time(day, at, zone)
    return morning if morning > shown else planner.wall_time(day + timedelta(days=1), at, zone)


def _key(prompt: Prompt) -> tuple[str, datetime]:
    """What makes a prompt the same one (as the prompts table's unique key): its slot and due time."""
    return prompt.slot, prompt.due


@dataclass(frozen=True)
class Held:
    """A due prompt not shown because the user is away or busy, and why ("screen locked")."""

    prompt: Prompt
    reason: str
    since: datetime
    signal: str = ""
    """The kind of signal that holds it (presence.base.KINDS)."""


class PromptService:
    def __init__(self, journal: JournalPort, bus: EventBus, presence: Check = always_present) -> None:
        self.journal = journal
        self.bus = bus
        self.presence = presence
        self.lock = threading.RLock()
        self.open: dict[str, ActivePrompt] = {}
        """Prompts shown by this process and not closed yet, by row id."""
        self.held: dict[str, Held] = {}
        """Prompts due but held while the user is away, by group."""
        self.saving: set[str] = set()
        """Prompts whose answer is being saved (retried while the database is busy): never `missed`."""
        self.camera: CameraCheckins | None = None
        """Camera check-ins (agent/camera_checks.py): a desk check-in the camera answers is not asked."""

    @property
    def settings(self) -> Settings:
        return self.journal.settings

    @property
    def timeout(self) -> timedelta:
        return timedelta(minutes=self.settings.prompt_timeout_minutes)

    def ends(self, kind: str, shown: datetime) -> datetime:
        """When a prompt of this kind (slot or group) shown at `shown` times out."""
        zone = self.journal.zone
        if group_of(kind) in UNTIL_END_OF_DAY:
            return day_bounds(shown.astimezone(zone).date(), zone)[1]
        if group_of(kind) == PromptKind.SORENESS.value:
            return next_morning(shown, self.settings.soreness_next_morning, zone)
        return shown + self.timeout

    def plan(self, start: datetime, end: datetime) -> list[Prompt]:
        """The plan from the stored records and the current settings (the same code `schedule` uses)."""
        history = self.journal.history(planner.history_start(start), end)
        return planner.plan(self.settings, history, self.journal.zone, start, end)

    # --- showing ------------------------------------------------------------------------------

    def due(self, now: datetime, not_before: datetime | None = None) -> list[Prompt]:
        """The prompts to show at `now`: per group, the latest overdue one within its grace time,
        unless a prompt of that group due at or after it was already shown. Nothing due before the
        install (or before `not_before`, the end of a pause) is shown."""
        installed = self.journal.installed_at()
        if installed is not None and installed > now:
            installed = None  # a clock set back since the install: it does not hide today's prompts
        floor = max((t for t in (not_before, installed) if t is not None), default=None)
        candidates = [
            p for p in self.plan(now - MAX_GRACE, now + timedelta(microseconds=1))
            if now - p.due <= p.grace and (floor is None or p.due >= floor)
        ]
        shown = self.journal.prompts_shown(now - MAX_GRACE - timedelta(days=1), now + LOOKAHEAD)
        latest_shown: dict[str, datetime] = {}
        for s in shown:
            group = group_of(s.kind)
            latest_shown[group] = max(latest_shown.get(group, s.due), s.due)
        chosen: dict[str, Prompt] = {}
        for p in candidates:
            if p.kind in latest_shown and p.due <= latest_shown[p.kind]:
                continue
            if p.kind not in chosen or p.due >= chosen[p.kind].due:
                chosen[p.kind] = p
        return sorted(chosen.values())

    def show_due(self, now: datetime, not_before: datetime | None = None) -> list[ActivePrompt]:
        with self.lock:
            out = []
            held_before = dict(self.held)
            for prompt in self._unless_away(now, self.due(now, not_before)):
                if self._camera_answered(prompt, now, held_before.get(prompt.kind)):
                    continue
                record = self.journal.record_prompt_shown(prompt.slot, prompt.due, prompt.context)
                if record is None:
                    continue  # another path showed it already
                # the stored time: `expire` and the timeout wake-up must agree to the microsecond
                active = ActivePrompt(record.id, prompt, record.shown_at or now)
                self.open[record.id] = active
                late = (now - prompt.due).total_seconds()
                log.info("prompt %s due %s shown (%.1f s late)", prompt.slot, prompt.due.isoformat(), late)
                out.append(active)
        if self.held != held_before:
            self.bus.publish(Event(STATE_CHANGED))  # the tray's "held: …" line
        for active in out:
            self.bus.publish(Event(PROMPT_DUE, active, together=tuple(o for o in out if o is not active)))
        return out

    def _camera_answered(self, prompt: Prompt, now: datetime, before: Held | None) -> bool:
        """Whether a camera check took the place of this prompt (module docstring of camera_checks);
        `before`: how it was held before this pass."""
        verdict = self.camera.verdict(prompt) if self.camera is not None else None
        if verdict is None:
            return False
        if verdict.verdict == "busy":  # as a meeting: held, and the camera tried again later
            same = before is not None and _key(before.prompt) == _key(prompt) and before.reason == BUSY_REASON
            self.held[prompt.kind] = Held(prompt, BUSY_REASON, before.since if same and before else now, "calendar")
            return True
        if verdict.verdict == "away":
            self.journal.record_prompt_away(prompt.slot, prompt.due, prompt.context)
            return True
        record = self.journal.record_prompt_shown(prompt.slot, prompt.due, prompt.context)
        if record is None:
            return True
        active = ActivePrompt(record.id, prompt, record.shown_at or now)
        checkin = (verdict.verdict, prompt.context or "desk", None)
        if self.journal.answer_prompt(record.id, "answered", checkin, by="camera",
                                      measures=(verdict.drop_cm, verdict.size_ratio)):
            self.bus.publish(Event(PROMPT_CLOSED, active, "answered"))
            if verdict.verdict == "slouched":
                self.bus.publish(Event(CAMERA_SLOUCHED, active, detail=slouch_message(verdict)))
        return True

    def held_now(self) -> tuple[Held, ...]:
        """The prompts held now (read from any thread)."""
        with self.lock:
            return tuple(self.held.values())

    def _unless_away(self, now: datetime, due: list[Prompt]) -> list[Prompt]:
        """`due`, or nothing (holding it) while the user is away; presence is read only if something
        is due. A held prompt no longer due can never be shown (out of its grace, overtaken by a
        newer one of its group, due before a pause ended): it is stored as `away`."""
        due_now = {_key(p) for p in due}
        for group, held in list(self.held.items()):
            if _key(held.prompt) in due_now:
                continue
            del self.held[group]
            prompt = held.prompt
            if self.journal.record_prompt_away(prompt.slot, prompt.due, prompt.context):
                log.info("prompt %s due %s never shown: away (%s)", prompt.slot, prompt.due.isoformat(), held.reason)
        if not due:
            return []
        presence = self.presence(now)
        if not presence.away:
            self.held.clear()
            return due
        for prompt in due:
            before = self.held.get(prompt.kind)
            same = before is not None and _key(before.prompt) == _key(prompt)
            if not same or before is None or before.reason != presence.reason:
                log.info("prompt %s due %s held: %s", prompt.slot, prompt.due.isoformat(), presence.reason)
            since = before.since if same and before is not None else now
            self.held[prompt.kind] = Held(prompt, presence.reason, since, presence.kind)
        return []

    def next_due(self, now: datetime) -> datetime | None:
        """When the next prompt after `now` is due (None: nothing within LOOKAHEAD)."""
        upcoming = self.plan(now + timedelta(microseconds=1), now + LOOKAHEAD)
        return upcoming[0].due if upcoming else None

    # --- closing ------------------------------------------------------------------------------

    def close(self, active: ActivePrompt, outcome: str, missed_checkin: tuple[str, datetime] | None = None) -> bool:
        with self.lock:
            closed = self.journal.close_prompt(active.id, outcome, missed_checkin)
            self.open.pop(active.id, None)
        if closed:
            log.info("prompt %s due %s closed: %s", active.prompt.slot, active.prompt.due.isoformat(), outcome)
            self.bus.publish(Event(PROMPT_CLOSED, active, outcome))
        return closed

    def answer(self, active: ActivePrompt, posture: str | None = None, context: str | None = None,
               at: datetime | None = None) -> bool:
        """The user answered from a window or a notification (a check-in: a posture, given `at`).
        The answer and the prompt's closing are one transaction; False if it was closed already."""
        prompt = active.prompt
        checkin = None
        if prompt.kind == planner.CHECKIN_GROUP:
            if posture is None:
                raise ValueError("a check-in answer needs a posture")
            checkin = (posture, context or prompt.context or "desk", at)
        return self._settle(active, "skipped" if posture == "skipped" else "answered", checkin)

    def skip(self, active: ActivePrompt) -> bool:
        if active.prompt.kind == planner.CHECKIN_GROUP:
            return self.answer(active, "skipped")
        return self._settle(active, "skipped", None)

    def _settle(self, active: ActivePrompt, outcome: str, checkin: tuple[str, str, datetime | None] | None) -> bool:
        _, closed = self.settle(active, outcome, lambda pid: (None, self.journal.answer_prompt(pid, outcome, checkin)))
        if not closed:
            prompt = active.prompt
            log.info("prompt %s due %s was already closed: %s not stored", prompt.slot, prompt.due.isoformat(),
                     checkin[0] if checkin else outcome)
        return closed

    def settle(self, active: ActivePrompt | None, outcome: str,
               write: Callable[[str], tuple[T, bool]]) -> tuple[T, bool]:
        """The one route of every answer: `write(prompt id)` stores the answer and closes the prompt
        in one transaction (the id is "" when the answer closes no prompt); then PROMPT_CLOSED."""
        with self.lock:
            result, closed = write("" if active is None else active.id)
            if active is not None:
                self.open.pop(active.id, None)
        if closed and active is not None:
            log.info("prompt %s due %s closed: %s", active.prompt.slot, active.prompt.due.isoformat(), outcome)
            self.bus.publish(Event(PROMPT_CLOSED, active, outcome))
        return result, closed

    def open_of(self, kind: str) -> ActivePrompt | None:
        """The latest open prompt of this group shown by this process, if any."""
        with self.lock:
            found = [a for a in self.open.values() if a.prompt.kind == kind]
        return max(found, key=lambda a: a.shown_at) if found else None

    def record_drill(self, name: str, at: datetime, source: str = "tray") -> r.DrillDone:
        """A drill ticked in a window; the drills prompt is closed with the last drill of the day."""
        active = self.open_of(PromptKind.DRILLS)
        todo = {d.drill.name for d in self.journal.drills_for() if not d.done}
        closes = active if active is not None and todo <= {name} else None
        done, _ = self.settle(closes, "answered",
                              lambda pid: self.journal.answer_drills([name], at, source, answers=pid or None))
        return done[0]

    def record_circuit(self, rounds: int, at: datetime, source: str = "tray") -> r.Circuit:
        active = self.open_of(PromptKind.CIRCUIT)
        circuit, _ = self.settle(active, "answered",
                                 lambda pid: self.journal.answer_circuit(rounds, at, source, answers=pid or None))
        return circuit

    def record_soreness(self, values: dict[str, int | None], at: datetime, form: frozenset[str], si_pain: bool,
                        source: str = "tray") -> tuple[r.Soreness, rules.Advice]:
        active = self.open_of(PromptKind.SORENESS)
        saved, _ = self.settle(active, "answered", lambda pid: self.journal.answer_soreness(
            values, at, form=form, si_pain=si_pain, source=source, answers=pid or None))
        return saved

    def hold(self, prompt_id: str) -> None:
        """An answer to this prompt is being saved: it must not time out meanwhile."""
        with self.lock:
            self.saving.add(prompt_id)

    def release(self, prompt_id: str) -> None:
        with self.lock:
            self.saving.discard(prompt_id)

    def expire(self, now: datetime) -> datetime | None:
        """Close every open prompt whose time is up; returns when the next open one times out."""
        next_timeout: datetime | None = None
        for record in self.journal.open_prompts():
            shown = record.shown_at or record.due
            ends = self.ends(record.kind, shown)
            if record.id in self.saving:
                ends = max(ends, now + HELD_RECHECK)
            if ends > now:
                next_timeout = ends if next_timeout is None else min(next_timeout, ends)
                continue
            active = self.open.get(record.id) or ActivePrompt(record.id, self._prompt_of(record), shown)
            outcome = self._outcome_since(record, shown, ends)
            missed = None
            if outcome == "missed" and group_of(record.kind) == planner.CHECKIN_GROUP:
                missed = (record.context or "desk", min(record.due, now))
            self.close(active, outcome, missed)
        return next_timeout

    def _prompt_of(self, record: r.PromptShown) -> Prompt:
        return Prompt(record.due, PromptKind(group_of(record.kind)), record.context)

    def _outcome_since(self, record: r.PromptShown, shown: datetime, ends: datetime) -> str:
        """answered / skipped when the matching record was made while the prompt was open."""
        history = self.journal.history(shown - timedelta(seconds=1), ends + timedelta(seconds=1))
        kind = group_of(record.kind)
        if kind == planner.CHECKIN_GROUP:
            answers = [c for c in history.checkins if c.posture != "missed"]
            if any(c.answered for c in answers):
                return "answered"
            return "skipped" if answers else "missed"
        made = {
            "drills": history.drills,
            "circuit": history.circuits,
            "soreness": history.soreness,
        }.get(kind, ())
        return "answered" if made else "missed"
