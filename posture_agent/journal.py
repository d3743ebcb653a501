"""The one way in for recording the user's records, and what the command line, the agent and the
tray's windows (through callbacks) read: it validates every input, writes one unit of work in one
transaction, and answers with plain records. Windows never see a session; this module does.
Reports and importers read their ranges through store/queries.py, which answers with the same records.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from posture_agent.clock import Clock
from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import records as r
from posture_agent.domain import validation as v
from posture_agent.domain.days import day_bounds
from posture_agent.domain.drills import DrillPlan
from posture_agent.errors import UserError
from posture_agent.recorded import DrillState, RunSaved, TakenBack
from posture_agent.recorded import describe as describe  # where tests and callers found it
from posture_agent.store import queries as q
from posture_agent.store import tables as t
from posture_agent.store.db import Store

MAX_DISTANCE_KM, MIN_DURATION, MAX_SPEED_KMH = v.MAX_DISTANCE_KM, v.MIN_DURATION, v.MAX_SPEED_KMH
FUTURE_TOLERANCE = v.FUTURE_TOLERANCE
T = TypeVar("T")


KINDS = {
    "checkins": "check-in", "drill_completions": "drill", "circuits": "circuit", "runs": "run",
    "soreness_reports": "soreness report",
}
"""What a record of each table is called in a human line and in JSON (`kind`)."""


class Journal:
    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.zone = settings.zone()
        self._device: str | None = None
        self._installed: datetime | None = None

    # --- identity and time ---------------------------------------------------------------------

    @property
    def device(self) -> str:
        if self._device is None:
            with self.store.transaction() as s:
                device_id = q.meta(s, "device_id") or "unknown"
            name = self.settings.device_name or socket.gethostname() or "computer"
            self._device = f"{name[:40]}:{device_id}"
        return self._device

    def configured(self, settings: Settings) -> Journal:
        """The same store under new settings (the agent's config reload)."""
        return Journal(self.store, settings, self.clock)

    def forget_device(self) -> None:
        """Read the device id again (sync gave this home a new one)."""
        self._device = None

    def installed_at(self) -> datetime | None:
        """When this home's database was made (the install): nothing due before it is prompted."""
        if self._installed is None:
            with self.store.transaction() as s:
                self._installed = q.created_at(s)
        return self._installed

    def now(self) -> datetime:
        return self.clock.now()

    def when(self, at: datetime | None) -> datetime:
        """The time of a record: now, or a past `at` (a future one is refused)."""
        now = self.now()
        if at is None:
            return now
        if at > now + FUTURE_TOLERANCE:
            local = at.astimezone(self.zone)
            raise UserError(f"--at {local:%Y-%m-%d %H:%M} is in the future; records are for what happened")
        return at.astimezone(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()

    # --- recording ----------------------------------------------------------------------------

    def record_checkin(
        self, posture: str, context: str = "desk", at: datetime | None = None, source: str = "cli",
        prompted: bool = False, by: str = "user", measures: tuple[float | None, float | None] = (None, None),
    ) -> r.CheckIn:
        """One check-in; `by` "camera" for a camera check's verdict, with its `measures` (how many cm
        lower the head was than calibrated, the face's size ratio)."""
        checked(v.check_posture, posture, prompted and posture == "missed")
        checked(v.check_context, context)
        checked(v.check_answered_by, by, measures)
        when = self.when(at)
        with self.store.transaction() as s:
            values = {"at": when, "context": context, "posture": posture, "prompted": prompted, "answered_by": by,
                      "head_drop_cm": measures[0], "face_size_ratio": measures[1]}
            rid = q.add(s, t.checkins, values, device=self.device, source=source, now=self.now())
        return r.CheckIn(rid, when, context, posture, prompted, by)

    def _unit(self, answers: str | None, write: Callable[[Connection], T]) -> tuple[T, bool]:
        """`write` in one transaction, closing the open prompt `answers` (as answered) in the same
        one; the result and whether this closed the prompt (False: none given, or closed already)."""
        with self.store.transaction() as s:
            result = write(s)
            closed = answers is not None and q.close_prompt(s, answers, "answered")
        return result, closed

    def _check_drill_names(self, names: list[str]) -> None:
        catalogue = self.settings.catalogue
        unknown = [n for n in names if n not in catalogue]
        if unknown:
            guess = v.did_you_mean(unknown[0], catalogue)
            raise UserError(f"unknown drill {unknown[0]!r}{guess} (known: {', '.join(sorted(catalogue))})")
        if not names:
            raise UserError("name at least one drill")

    def record_drills(self, names: list[str], at: datetime | None = None, source: str = "cli") -> list[r.DrillDone]:
        return self.answer_drills(names, at, source)[0]

    def answer_drills(self, names: list[str], at: datetime | None = None, source: str = "cli",
                      answers: str | None = None) -> tuple[list[r.DrillDone], bool]:
        """`record_drills`, closing the prompt `answers` in the same transaction."""
        self._check_drill_names(names)
        when = self.when(at)
        device = self.device

        def write(s: Connection) -> list[r.DrillDone]:
            out = []
            for name in dict.fromkeys(names):
                values = {"at": when, "drill": name}
                rid = q.add(s, t.drill_completions, values, device=device, source=source, now=self.now())
                out.append(r.DrillDone(rid, when, name))
            return out

        return self._unit(answers, write)

    def record_circuit(self, rounds: int | None = None, at: datetime | None = None, source: str = "cli") -> r.Circuit:
        return self.answer_circuit(rounds, at, source)[0]

    def answer_circuit(self, rounds: int | None = None, at: datetime | None = None, source: str = "cli",
                       answers: str | None = None) -> tuple[r.Circuit, bool]:
        """`record_circuit`, closing the prompt `answers` in the same transaction."""
        rounds = self.settings.circuit_rounds if rounds is None else rounds
        checked(v.check_rounds, rounds)
        when = self.when(at)
        device = self.device

        def write(s: Connection) -> r.Circuit:
            rid = q.add(s, t.circuits, {"at": when, "rounds": rounds}, device=device, source=source, now=self.now())
            return r.Circuit(rid, when, rounds)

        return self._unit(answers, write)

    def add_run(
        self, start: datetime | None, duration: timedelta, distance_km: float, source: str = "cli",
        sport: str = "running", moving: timedelta | None = None, fingerprint: str | None = None,
        origin: str | None = None,
    ) -> RunSaved:
        check_run(distance_km, duration)
        now = self.now()
        begin = self.when(start) if start is not None else now - duration
        if begin + duration > now + FUTURE_TOLERANCE:
            raise UserError("the run would end in the future: give its start with --at")
        with self.store.transaction() as s:
            values = {
                "start": begin, "duration_s": duration.total_seconds(), "distance_km": distance_km, "sport": sport,
                "moving_s": moving.total_seconds() if moving else None, "fingerprint": fingerprint, "origin": origin,
            }
            rid = q.add(s, t.runs, values, device=self.device, source=source, now=now)
            recent = self._recent(s, begin + duration)
        run = r.Run(rid, begin, duration, distance_km, sport, source, moving)
        return RunSaved(run, self._run_warning(recent, begin, duration))

    def _run_warning(self, recent: r.History, begin: datetime, duration: timedelta) -> str | None:
        """A run is saved even when it should not have been run; this says why it should not."""
        return rules.run_warning(
            recent, threshold=self.settings.soreness_threshold, zone=self.zone, start=begin, end=begin + duration
        )

    def record_soreness(
        self, values: dict[str, int | None], at: datetime | None = None, run: str | None = None,
        form: frozenset[str] = frozenset(), si_pain: bool = False, source: str = "cli",
    ) -> tuple[r.Soreness, rules.Advice]:
        return self.answer_soreness(values, at, run, form, si_pain, source)[0]

    def answer_soreness(
        self, values: dict[str, int | None], at: datetime | None = None, run: str | None = None,
        form: frozenset[str] = frozenset(), si_pain: bool = False, source: str = "cli", answers: str | None = None,
    ) -> tuple[tuple[r.Soreness, rules.Advice], bool]:
        """`record_soreness`, closing the prompt `answers` in the same transaction."""
        for region, value in values.items():
            checked(v.check_score, region, value)
        checked(v.check_form, form)
        if all(v is None for v in values.values()) and not si_pain:
            raise UserError("give at least one region's soreness, 0 to 10 (e.g. --upper-back 4)")
        when = self.when(at)
        device = self.device

        def write(s: Connection) -> r.Soreness:
            run_id = self._resolve_run(s, run, when)
            row = {
                "at": when, "run_id": run_id, "form": ",".join(sorted(form)), "si_pain_reported": si_pain,
                **{k: values.get(k) for k in r.REGIONS},
            }
            rid = q.add(s, t.soreness_reports, row, device=device, source=source, now=self.now())
            return r.Soreness(
                rid, when, values.get("upper_back"), values.get("mid_back"), values.get("lower_back"),
                values.get("si_joint"), run_id, form, si_pain,
            )

        report, closed = self._unit(answers, write)
        return (report, self.advice()), closed

    def _find_run(self, s: Connection, prefix: str) -> r.Run:
        """The live run with this id or unique prefix (as `run list` shows them)."""
        # ids are UUIDs: anything else (a LIKE wildcard, bytes that were not UTF-8) matches none
        if not re.fullmatch(r"[0-9a-fA-F-]{1,36}", prefix.strip()):
            raise UserError(f"no run with id {prefix!r} (see `posture-agent run list`)")
        found = q.run_by_prefix(s, prefix.strip())
        if not found and (edited := q.run_edited_into(s, prefix.strip())) is not None:
            found = [edited]
        if not found:
            raise UserError(f"no run with id {prefix!r} (see `posture-agent run list`)")
        if len(found) > 1:
            raise UserError(f"run id {prefix!r} is ambiguous: give more characters")
        return found[0]

    def _resolve_run(self, s: Connection, prefix: str | None, at: datetime) -> str | None:
        """An explicit run id (or unique prefix), else the run that ended in the 24 h before `at`."""
        if prefix:
            return self._find_run(s, prefix).id
        last = q.last_run_before(s, at)
        if last and last.end <= at <= last.end + timedelta(hours=24):
            return last.id
        return None

    def end_protocol(self, at: datetime | None = None, source: str = "cli") -> datetime:
        when = self.when(at)
        with self.store.transaction() as s:
            if rules.active_protocol(self._recent(s, when), self.settings.soreness_threshold, when) is None:
                raise UserError("no SI-joint protocol is running")
            q.add(s, t.protocol_ends, {"at": when}, device=self.device, source=source, now=self.now())
        return when

    # --- taking records back -------------------------------------------------------------------

    def untick_drills(self, names: list[str], at: datetime | None = None, source: str = "cli") -> TakenBack:
        """Take back the ticks of these drills on the local day of `at` (default today); refused,
        with nothing written, when one of them is not ticked that day."""
        self._check_drill_names(names)
        day = self.when(at).astimezone(self.zone).date()
        start, end = day_bounds(day, self.zone)
        with self.store.transaction() as s:
            done = q.drills(s, start, end)
            gone = []
            for name in dict.fromkeys(names):
                ticks = [d for d in done if d.drill == name]
                if not ticks:
                    raise UserError(f"{name} is not ticked on {day:%a %d %b %Y}: nothing to untick")
                gone += ticks
            q.bury(s, t.drill_completions, [d.id for d in gone], device=self.device, source=source, now=self.now())
        return TakenBack("drill", tuple(gone))

    def delete_run(self, prefix: str, source: str = "cli") -> TakenBack:
        """Take back a run by its id or unique prefix (a tombstone: see `tables.tombstones`)."""
        with self.store.transaction() as s:
            run = self._find_run(s, prefix)
            q.bury(s, t.runs, [run.id], device=self.device, source=source, now=self.now())
        return TakenBack("run", (run,))

    def edit_run(
        self, prefix: str, distance_km: float | None = None, duration: timedelta | None = None,
        start: datetime | None = None, source: str = "cli",
    ) -> tuple[r.Run, RunSaved]:
        """Change a run's distance, duration or start: (the old version, the new one saved).

        An edit is a delete and a re-add: the old run gets a tombstone naming its new version
        (`replaced_by`) and the new version is a new record with a new UUID, whose first 8 characters
        (the id `run list` shows and every command takes) are the old one's: the run keeps the id the
        user knows, and the old full id still finds it (`queries.run_edited_into`). Records are then still
        written once and never changed, so the merge stays "insert the UUIDs not here yet" and the
        order in which devices see the files changes nothing; a last-writer-wins update would need
        updated rows to travel again and a per-column comparison in every merge. Soreness reports
        linked to the old id follow the tombstone to the new version. Two computers editing the
        same run before a sync end with the later edit (`queries.superseded_versions`)."""
        if distance_km is None and duration is None and start is None:
            raise UserError("give what to change: --distance-km, --duration or --at")
        now = self.now()
        with self.store.transaction() as s:
            old = self._find_run(s, prefix)
            row = q.any_row(s, t.runs, old.id) or {}
            new_duration = duration if duration is not None else old.duration
            new_distance = distance_km if distance_km is not None else old.distance_km
            check_run(new_distance, new_duration)
            begin = self.when(start) if start is not None else old.start
            if begin + new_duration > now + FUTURE_TOLERANCE:
                raise UserError("the run would end in the future: check --at and --duration")
            moving = old.moving if duration is None else None
            values = {
                "id": old.id[:8] + t.new_id()[8:],
                "start": begin, "duration_s": new_duration.total_seconds(), "distance_km": new_distance,
                "sport": old.sport, "moving_s": moving.total_seconds() if moving else None,
                "fingerprint": None, "origin": row.get("origin"),
            }
            rid = q.add(s, t.runs, values, device=self.device, source=source, now=now)
            q.bury(s, t.runs, [old.id], device=self.device, source=source, now=now, replaced_by=rid)
            recent = self._recent(s, begin + new_duration)
        new = r.Run(rid, begin, new_duration, new_distance, old.sport, source, moving)
        return old, RunSaved(new, self._run_warning(recent, begin, new_duration))

    def undo(self, source: str = "cli") -> TakenBack:
        """Take back the last record made on this computer (a check-in, the drills of one tick, a
        circuit, a run, a soreness report), for `undo` and the tray's Undo. The last one is an
        edited run: the edit is undone (its earlier version comes back under a new id)."""
        now = self.now()
        with self.store.transaction() as s:
            device_id = q.meta(s, "device_id") or "unknown"
            last = q.last_own(s, f":{device_id}")
            if last is None:
                raise UserError("nothing to undo: no record made on this computer")
            table, rows = last
            records = tuple(q.record_of(table, x) for x in rows)
            restored = None
            earlier = q.edited_from(s, rows[0].id, rows[0].created_at) if table is t.runs else None
            old = q.any_row(s, t.runs, earlier) if earlier else None
            if old is not None:
                copy = {k: v for k, v in old.items() if k not in ("id", "created_at", "device", "source")}
                copy["fingerprint"] = None
                back = q.add(s, t.runs, copy, device=self.device, source=old["source"], now=old["created_at"])
                restored = q.record_by_id(s, t.runs, back)
                q.bury(s, t.runs, [rows[0].id], device=self.device, source=source, now=now, replaced_by=back)
            else:
                q.bury(s, table, [x.id for x in rows], device=self.device, source=source, now=now)
        return TakenBack(KINDS[table.name], records, restored)

    # --- prompts shown by the agent -------------------------------------------------------------

    def record_prompt_shown(self, kind: str, due: datetime, context: str | None) -> r.PromptShown | None:
        """Mark a prompt as shown now; None when it was already shown (unique kind and due)."""
        from sqlalchemy.exc import IntegrityError

        now = self.now()
        try:
            with self.store.transaction() as s:
                values = {"kind": kind, "due": due, "context": context, "shown_at": now, "outcome": None}
                rid = q.add(s, t.prompts, values, device=self.device, source="prompt", now=now)
        except IntegrityError:
            return None
        return r.PromptShown(rid, kind, due, context, now, None)

    def record_prompt_away(self, kind: str, due: datetime, context: str | None) -> bool:
        """A prompt held while the user was away and dropped unseen: stored closed as `away` (no
        check-in is written, so it is neither an answer nor a miss). False if already stored."""
        from sqlalchemy.exc import IntegrityError

        now = self.now()
        try:
            with self.store.transaction() as s:
                values = {"kind": kind, "due": due, "context": context, "shown_at": None, "outcome": "away"}
                q.add(s, t.prompts, values, device=self.device, source="prompt", now=now)
        except IntegrityError:
            return False
        return True

    def close_prompt(self, prompt_id: str, outcome: str, missed_checkin: tuple[str, datetime] | None = None) -> bool:
        """Set how an open prompt ended (answered, skipped, missed); False if it was already closed.

        `missed_checkin` (context, at): the `missed` check-in of a timed-out check-in prompt, written
        in the same transaction and only if this call closed the prompt, so an agent killed between
        the two writes never records the same miss twice."""
        if outcome not in ("answered", "skipped", "missed"):
            raise UserError(f"prompt outcome {outcome!r} is not one of: answered, skipped, missed")
        device = self.device
        with self.store.transaction() as s:
            closed = q.close_prompt(s, prompt_id, outcome)
            if closed and missed_checkin is not None:
                context, at = missed_checkin
                values = {"at": at.astimezone(UTC), "context": context, "posture": "missed", "prompted": True}
                q.add(s, t.checkins, values, device=device, source="prompt", now=self.now())
            return closed

    def answer_prompt(self, prompt_id: str, outcome: str, checkin: tuple[str, str, datetime | None] | None = None,
                      by: str = "user", measures: tuple[float | None, float | None] = (None, None)) -> bool:
        """Close an open prompt as answered or skipped and, for a check-in, store its answer
        (posture, context, at) in the same transaction; False, and nothing stored, if it was closed.
        `by` "camera": a camera check answered it, with its measures (see `record_checkin`)."""
        if outcome not in ("answered", "skipped"):
            raise UserError(f"prompt answer {outcome!r} is not one of: answered, skipped")
        values = None
        if checkin is not None:
            posture, context, at = checkin
            checked(v.check_posture, posture)
            checked(v.check_context, context)
            checked(v.check_answered_by, by, measures)
            values = {"at": self.when(at), "context": context, "posture": posture, "prompted": True,
                      "answered_by": by, "head_drop_cm": measures[0], "face_size_ratio": measures[1]}
        with self.store.transaction() as s:
            closed = q.close_prompt(s, prompt_id, outcome)
            if closed and values is not None:
                q.add(s, t.checkins, values, device=self.device, source="prompt", now=self.now())
            return closed

    def prompts_shown(self, start: datetime | None = None, end: datetime | None = None) -> list[r.PromptShown]:
        with self.store.transaction() as s:
            return q.prompts(s, start, end)

    def open_prompts(self) -> list[r.PromptShown]:
        with self.store.transaction() as s:
            return q.open_prompts(s)

    # --- reading ------------------------------------------------------------------------------

    def _recent(self, s: Connection, at: datetime) -> r.History:
        """The records that can still matter to the rules at `at`."""
        start = at - rules.LOOKBACK - timedelta(days=2)
        return q.history(s, start, at + timedelta(seconds=1))

    def advice(self, at: datetime | None = None) -> rules.Advice:
        now = at or self.now()
        with self.store.transaction() as s:
            history = self._recent(s, now)
        return rules.evaluate(
            history, threshold=self.settings.soreness_threshold, ice_times=self.settings.ice_times,
            now=now, zone=self.zone,
        )

    def drills_for(self, day: date | None = None) -> list[DrillState]:
        day = day or self.today()
        start, end = day_bounds(day, self.zone)
        with self.store.transaction() as s:
            history = q.history(s, start - rules.LOOKBACK, end)
        done = {d.drill: d.at for d in history.drills if start <= d.at < end}
        plan = DrillPlan.of(self.settings.daily_drills, history.soreness, self.settings.soreness_threshold, self.zone)
        return [DrillState(self.settings.catalogue[name], name in done, done.get(name)) for name in plan(day)]

    def runs(self) -> list[r.Run]:
        with self.store.transaction() as s:
            return q.runs(s)

    def history(self, start: datetime | None = None, end: datetime | None = None) -> r.History:
        with self.store.transaction() as s:
            return q.history(s, start, end)


def check_run(distance_km: float, duration: timedelta) -> None:
    """Refuse numbers no run can have, naming the allowed range (domain/validation.py)."""
    checked(v.check_run, distance_km, duration)


def checked(check: Callable[..., None], *args: Any) -> None:
    """Run one of domain/validation.py's checks; what it refuses becomes the command's one line."""
    try:
        check(*args)
    except v.Invalid as exc:
        raise UserError(str(exc)) from None
