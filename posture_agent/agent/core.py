"""The running agent: the prompt service driven by APScheduler, pause and resume, config reload,
the control channel, and the small API a tray drives (see docs/agent.md). It reaches the data only
through `journal_port` (a `JournalPort` and its `Chores`): in `posture-agent start` those are the
worker process's client, so this module and everything it imports hold no store (runtime.py builds
the same agent on a store in this process).

The schedule is never stored: every wake-up recomputes it from the config and the database, so
nothing can drift. Jobs (all `coalesce=True, max_instances=1` with a misfire grace time):
- `prompt`: a one-shot at the next due time; it ticks the prompt service, then re-arms itself;
- `timeout`: a one-shot when the oldest open prompt times out;
- `resume`: a one-shot when a pause ends;
- `active-again`: once, when the platform's one-shot watch (armed while a prompt is held for
  idle or lock) sees the user back, so the prompt is shown then rather than at the next minute;
- `housekeeping`: once a minute — a prompt held while the user is away: are they back? config file
  changed? records changed (a run logged)? a wall-clock jump (sleep, clock set)? a new local day
  (its backup)? Nothing polls more often, so an idle agent sleeps between minutes;
- `import`: every few minutes when `[import] folder` is set.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time as _time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date, datetime, timedelta
from typing import Any

from posture_agent.agent import holds, jobhealth
from posture_agent.agent.answers import ALREADY_CLOSED, WINDOW_COMMANDS, NotSaved, Reply, window_answer
from posture_agent.agent.camera_checks import USER_WORD, CameraCheckins
from posture_agent.agent.control import ControlServer, answer_request
from posture_agent.agent.events import (
    PROMPT_DUE,
    STATE_CHANGED,
    STOP_WANTED,
    WINDOW_WANTED,
    ActivePrompt,
    Event,
    EventBus,
    Listener,
)
from posture_agent.agent.housekeeping import ClockWatch, data_files_stamp, file_stamp
from posture_agent.agent.journal_port import Chores, JournalPort
from posture_agent.agent.notify import ASKED, Notifier
from posture_agent.agent.pause import Pause
from posture_agent.agent.prompts import PromptService
from posture_agent.agent.scheduler import Jobs
from posture_agent.agent.status import Status
from posture_agent.clock import Clock
from posture_agent.config import ConfigError, Settings, load_settings
from posture_agent.domain import advice as rules
from posture_agent.domain.pause import pause_until
from posture_agent.domain.plan import PromptKind
from posture_agent.errors import StoreError, UserError
from posture_agent.paths import Paths
from posture_agent.presence.base import ACTIVE_AGAIN_KINDS, ActiveWatch, Check, NoWatch, PresenceCheck
from posture_agent.presence.calendar import WAIT_SECONDS
from posture_agent.presence.desktop import active_watch, calendar_signal, presence_check

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 60
IMPORT_MINUTES = 5
SAVE_RETRY_SECONDS = 600
"""How long an answer from a notification is retried while the database stays busy."""
SAVE_RETRY_PAUSE = (0.5, 1.0, 2.0, 5.0)
ANSWER_WAIT_SECONDS = 15
"""How long a window's `answer` request waits for the save before it is told "still saving"."""
WARM_AHEAD = timedelta(seconds=5)
"""The data (the worker process) is made ready this long before a prompt falls due, so that its
notification is shown on time."""
WAIT_FOR_CALENDAR = WAIT_SECONDS
"""How long a pass waits for the calendar's expansion under way, before taking its lock."""


class AgentCore:
    """The agent's core. Drive it with `tick()` in tests, or `start()` for real time."""

    def __init__(
        self, paths: Paths, journal: JournalPort, chores: Chores, clock: Clock, presence: Check | None = None,
        monotonic: Callable[[], float] = _time.monotonic, watch: ActiveWatch | None = None,
    ) -> None:
        """`journal` and `chores`: the data (journal_port.py). `presence`: the away check (tests pin
        one); None reads this desktop's signals. `watch`: the one-shot "active again" watch; None:
        this desktop's with its own signals, else none."""
        self.paths = paths
        self.chores = chores
        self.clock = clock
        self.bus = EventBus()
        self._own_presence = presence is None
        settings = journal.settings
        self.service = PromptService(journal, self.bus, presence or _presence(settings, paths))
        self.service.camera = CameraCheckins(lambda: self.service.settings, paths.data_dir)
        self.watch = watch or (active_watch() if presence is None else NoWatch())
        for held in holds.load(paths.runtime_dir):  # the last run's: the first tick shows or stores them
            self.service.held[held.prompt.kind] = held
        self._kept_held = self.service.held_now()
        self._watching = False
        """The watch was armed in this spell of held prompts (once: later returns wait for the minute)."""
        self.lock = threading.RLock()
        self.pause_state = Pause(paths.runtime_dir)
        self.notifier: Notifier | None = None
        self.scheduler: Jobs | None = None
        self.control: ControlServer | None = None
        self._config_stamp = file_stamp(paths.config_file)
        self._data_stamp = data_files_stamp(paths.db_file)
        self._clock_watch = ClockWatch(clock.now(), monotonic)
        self._backup_day: date | None = None
        self._backup_lock = threading.Lock()
        """The local day of the last daily backup pass (one per day: at start, then at housekeeping)."""
        self._last_tick: datetime | None = None
        """The clock's time at the last pass (`tick`)."""
        self._answers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answers")
        """Answers pressed in a notification are saved here, one after another (its thread starts
        with the first answer)."""
        self.bus.subscribe(self._present)

    # --- the API a tray drives --------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @property
    def journal(self) -> JournalPort:
        return self.service.journal

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Listen to prompt due / prompt closed / state changed events; returns an unsubscribe."""
        return self.bus.subscribe(listener)

    def status(self) -> Status:
        now = self.clock.now()
        zone = self.journal.zone
        advice = self.journal.advice(now)
        paused = self.current_pause(now)
        nxt = None
        for prompt in self.service.plan(now + timedelta(microseconds=1), now + timedelta(days=2)):
            if paused is None or prompt.due >= paused:
                nxt = prompt
                break
        return Status(
            now=now, next_prompt=nxt, paused_until=paused,
            rest_today=advice.rest_on(now.astimezone(zone).date()),
            si_protocol_day=advice.si_protocol.day if advice.si_protocol else None,
            si_protocol_days=advice.si_protocol.days if advice.si_protocol else rules.PROTOCOL_DAYS + 1,
            open_prompts=tuple(self.service.open.values()),
            notifications_ok=not (self.notifier is not None and self.notifier.failed),
            failing_jobs=tuple(f.job for f in jobhealth.failing(self.paths.runtime_dir)),
            held=self.service.held_now(),
            si_running_again=advice.si_protocol.running_again if advice.si_protocol else None,
        )

    def pause(self, until: datetime) -> datetime:
        """No prompts until `until`; open prompts still time out. Survives a restart."""
        with self.lock:
            self.pause_state.start(until)
        log.info("paused until %s", until.isoformat())
        self.bus.publish(Event(STATE_CHANGED))
        self._reschedule()
        return until

    def pause_for(self, choice: str) -> datetime:
        return self.pause(pause_until(choice, self.clock.now(), self.journal.zone))

    def resume(self) -> None:
        """Prompts again from now; those due during the pause are not shown late."""
        with self.lock:
            self.pause_state.end(self.clock.now())
        log.info("resumed")
        self.bus.publish(Event(STATE_CHANGED))
        self._reschedule()

    def answer(self, active: ActivePrompt, posture: str | None = None, context: str | None = None) -> None:
        """Record the answer to a shown prompt (check-ins: a posture) and close it."""
        self.service.answer(active, posture, context)
        self._reschedule()

    def skip(self, active: ActivePrompt) -> None:
        self.service.skip(active)
        self._reschedule()

    def undo_later(self) -> Future[Reply]:
        """The tray's Undo: take back the last record made on this computer (`Journal.undo`), on
        the answers thread like every answer (retried while the database is busy). The future gives
        {"said": the journal's human line}, or raises `UserError` (e.g. nothing to undo)."""

        def save() -> Reply:
            taken = self.journal.undo(source="tray")
            self.bus.publish(Event(STATE_CHANGED))  # an undone soreness report can change the advice
            return {"said": taken.describe(self.journal.zone, self.clock.now())}

        return self.save_later(None, "undo", save)

    def request_stop(self) -> None:
        """`posture-agent stop`: whoever runs this agent (the tray app, the headless loop) hears
        STOP_WANTED, stops it and returns."""
        log.info("stop requested on the control channel")
        self.bus.publish(Event(STOP_WANTED))

    def deadline(self, active: ActivePrompt) -> datetime:
        """When this prompt times out: a window's countdown ends then."""
        return self.service.ends(active.prompt.kind, active.shown_at)

    def answer_later(self, active: ActivePrompt, posture: str, context: str | None = None) -> Future[Reply]:
        """A check-in answer from a notification or a window, given now: `save_later`."""
        at = self.clock.now()

        def save() -> Reply:
            if not self.service.answer(active, posture, context, at=at):
                raise NotSaved(ALREADY_CLOSED)
            return {}

        return self.save_later(active, posture, save)

    def save_later(self, active: ActivePrompt | None, label: str, save: Callable[[], Reply]) -> Future[Reply]:
        """Every answer's route (a notification's press, a window's): `save()` stores the answer and
        closes its prompt in one transaction, on the answers thread (never the caller's: a busy
        database freezes no window), retried while the database is busy; the prompt cannot time out
        as missed meanwhile. The future gives the reply's extra fields, or raises `UserError` with
        the reason it was not saved."""
        if active is not None:
            self.service.hold(active.id)
        return self._answers.submit(self._save, active, label, save)

    def _save(self, active: ActivePrompt | None, label: str, save: Callable[[], Reply]) -> Reply:
        deadline = _time.monotonic() + SAVE_RETRY_SECONDS
        which = active.id if active is not None else "none"
        try:
            for attempt in itertools.count():
                try:
                    reply = save()
                    break
                except StoreError as exc:
                    if _time.monotonic() >= deadline:
                        log.error("the answer %s (prompt %s) could not be saved: %s", label, which, exc)
                        if self.notifier is not None:
                            self.notifier.notify("Your answer could not be saved", f"{label.capitalize()}: {exc}")
                        raise NotSaved(str(exc)) from exc
                    pause = SAVE_RETRY_PAUSE[min(attempt, len(SAVE_RETRY_PAUSE) - 1)]
                    log.warning("saving the answer %s failed (%s); trying again in %.1f s", label, exc, pause)
                    _time.sleep(pause)
        except UserError:  # not a value the store accepts, or the prompt was closed already
            raise
        except Exception as exc:  # a bug: logged; the prompt then times out as usual
            log.exception("saving the answer %s (prompt %s) failed", label, which)
            raise NotSaved(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if active is not None:
                self.service.release(active.id)
        self._reschedule()
        return reply

    def _present(self, event: Event) -> None:
        """A check-in is asked in a notification with answer buttons, a soreness question in one
        whose body opens its window, where the server has actions; otherwise (or with no notifier)
        the window is wanted at once."""
        active = event.active
        if event.kind != PROMPT_DUE or active is None or active.prompt.kind not in ASKED:
            return
        also = tuple(t.prompt for t in event.together if t.prompt.kind == PromptKind.ICE)
        if self.notifier is None or not self.notifier.ask(active, also):
            self.want_window(active)

    def open_notifier(self) -> Notifier:
        """Desktop notifications for this agent's prompts; check-ins carry answer buttons."""
        self.notifier = Notifier(timeout_seconds=self.settings.prompt_timeout_minutes * 60,
                                 on_choice=self.answer_later, on_open=self.open_later,
                                 on_camera=self.camera_reply_later)
        self.subscribe(self.notifier)
        return self.notifier

    def camera_reply_later(self, active: ActivePrompt, key: str) -> Future[Reply]:
        """A press on the camera's slouch notification: the user's own word, stored beside the
        camera's check-in at its time ("Sit tall": slouched; "That's wrong": upright, a correction)."""
        posture = USER_WORD[key]
        context = active.prompt.context or "desk"

        def save() -> Reply:
            self.journal.record_checkin(posture, context, at=active.shown_at, source="prompt", prompted=True)
            return {}

        return self.save_later(None, f"{posture} (after the camera check)", save)

    def want_window(self, active: ActivePrompt) -> None:
        self.bus.publish(Event(WINDOW_WANTED, active))

    def open_later(self, active: ActivePrompt) -> None:
        """A click on a check-in notification's body (the receiver's thread): its window, from the
        answers thread, so listeners never run on the bus receiver."""
        self._answers.submit(self.want_window, active)

    # --- time ---------------------------------------------------------------------------------

    def current_pause(self, now: datetime) -> datetime | None:
        with self.lock:
            if self.pause_state.lapse(now):
                self.bus.publish(Event(STATE_CHANGED))
            return self.pause_state.until

    def tick(self) -> list[ActivePrompt]:
        """One pass at the clock's now: close timed-out prompts, show what is due. Returns shown."""
        self.read_ahead(WAIT_FOR_CALENDAR)
        with self.lock:
            now = self.clock.now()
            self._last_tick = now
            self.service.expire(now)
            paused = self.current_pause(now) is not None
            shown = [] if paused else self.service.show_due(now, self.pause_state.not_before)
            self._follow_held()
            return shown

    def read_ahead(self, wait: float) -> None:
        """Bring the calendar's expansion up to date (a child process when a file or the day
        changed) before the pass takes the lock: a slow or hostile calendar never blocks the agent."""
        presence = self.service.presence
        if isinstance(presence, PresenceCheck):
            presence.refresh(self.clock.now(), wait)

    def _follow_held(self) -> None:
        """Keep the held prompts in their file when they change; arm the active-again watch when a
        prompt is first held because the user is away (idle, locked: not busy), and disarm it once
        nothing is held."""
        held = self.service.held_now()
        if held != self._kept_held:
            holds.save(self.paths.runtime_dir, held)
            self._kept_held = held
        if not held:
            if self._watching:
                self.watch.disarm()
                self._watching = False
        elif not self._watching and any(h.signal in ACTIVE_AGAIN_KINDS for h in held):
            self.watch.arm(self._on_active)
            self._watching = True

    def _on_active(self) -> None:
        """Called by the watch's thread: the held prompts are looked at again now, on a job."""
        log.info("the user is active again: held prompts re-checked")
        if self.scheduler is not None:
            self.scheduler.now("active-again", self._on_wake)

    def next_wakeups(self) -> dict[str, datetime | None]:
        """When each one-shot job should run next."""
        now = self.clock.now()
        paused = self.current_pause(now)
        # from the last pass's time: a prompt that fell due while that pass ran is woken for at once
        since = min(now, self._last_tick) if self._last_tick is not None else now
        nxt = self.service.next_due(max(since, paused) if paused else since)
        timeouts = [self.deadline(a) for a in self.service.open.values()]
        for record in self.journal.open_prompts():
            timeouts.append(self.service.ends(record.kind, record.shown_at or record.due))
        return {
            "prompt": nxt or now + timedelta(days=1),
            "timeout": min(timeouts) if timeouts else None,
            "resume": paused,
        }

    # --- config and data changes -----------------------------------------------------------------

    def reload_config(self) -> bool:
        """Re-read the config file; a broken file is logged and the old settings stay."""
        self._config_stamp = file_stamp(self.paths.config_file)
        try:
            settings = load_settings(self.paths.config_file)
        except ConfigError as exc:
            log.error("config not reloaded, keeping the previous settings: %s", exc)
            if self.notifier is not None:
                self.notifier.notify(
                    "posture-agent: your config file has a mistake",
                    f"{exc}; the previous settings stay in use (the file was not changed)",
                )
            return False
        with self.lock:
            self.service.journal = self.service.journal.configured(settings)
            if self._own_presence:
                self.service.presence = _presence(settings, self.paths)
        log.info("config reloaded from %s", self.paths.config_file)
        self.bus.publish(Event(STATE_CHANGED))
        self._reschedule()
        self._schedule_import()
        return True

    def daily_backup(self) -> None:
        """Today's backup (SQLite backup API, last 7 kept) on the first pass of each local day."""
        if not self._backup_lock.acquire(blocking=False):
            return  # the start-up pass and a housekeeping minute met: one copy is under way
        try:
            now = self.clock.now()
            zone = self.journal.zone
            day = now.astimezone(zone).date()
            if day == self._backup_day:
                return
            self._backup_day = day  # a failed copy is logged by daily_backup and tried again tomorrow
            self.chores.daily_backup(now, zone)
        finally:
            self._backup_lock.release()

    def housekeeping(self) -> None:
        """Once a minute: config changed, records changed, clock jumped (sleep), a new day's backup,
        Windows requests, a sync round when a shared folder is set up."""
        if file_stamp(self.paths.config_file) != self._config_stamp:
            self.reload_config()
        self.read_ahead(0)  # a changed calendar is read before the next prompt falls due
        self.daily_backup()
        drift = self._clock_watch.drift(self.clock.now())
        stamp = data_files_stamp(self.paths.db_file)
        jumped = self._clock_watch.jumped(drift)
        if jumped:
            log.info("wall clock moved %+.0f s against the monotonic clock (sleep or clock change)", drift)
        changed = stamp != self._data_stamp and self.chores.data_changed(stamp)
        if not changed:  # unchanged, or only this agent's own writes
            self._data_stamp = stamp
        if jumped or changed or self.service.held:
            self._data_stamp = stamp
            self.tick()
            self._reschedule()
        if self.control is not None:
            self.control.poll_requests()
        self.sync_round()

    def sync_round(self) -> None:
        """A sync round when a shared folder is set up; the sync engine is loaded only then, so an
        agent that does not sync never holds it."""
        if not self.chores.sync_set_up():
            return
        news, new_device = self.chores.sync_round(self.settings.device_name)
        if new_device:
            self.journal.forget_device()
        if news and self.notifier is not None:
            self.notifier.notify("posture-agent sync", news)

    def import_folder(self) -> None:
        self.chores.import_folder(self.settings.import_folder)  # a failure: logged and recorded by _guard

    # --- real time ----------------------------------------------------------------------------

    def start(self, notifications: bool = True, control: bool = True) -> None:
        """Start the scheduler thread (and the notifier and control channel)."""
        jobhealth.clear(self.paths.runtime_dir)
        if notifications:
            self.open_notifier()
        self.scheduler = Jobs(self._guard)
        self.scheduler.every("housekeeping", self.housekeeping, seconds=HOUSEKEEPING_SECONDS)
        self.scheduler.start()
        self._schedule_import()
        if control:
            self.start_control()
        self.scheduler.now("startup", self._on_start)
        log.info("agent started (pid %d)", os.getpid())

    def start_control(self) -> None:
        """The control socket: `pause`, `resume`, `status`, `reload`, and windows' answers."""
        self.paths.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.control = ControlServer(self.paths.runtime_dir, self.handle_request)
        self.control.start()

    def stop(self) -> None:
        self.watch.disarm()
        if self.control is not None:
            self.control.stop()
            self.control = None
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self.notifier is not None:
            self.notifier.close()
        self._answers.shutdown(wait=True)  # an answer being saved is finished first
        self.chores.close()
        log.info("agent stopped")

    def _guard(self, job: Callable[[], Any]) -> Callable[[], None]:
        name = getattr(job, "__name__", "job").strip("_").replace("_", " ")

        def run() -> None:
            try:
                job()
            except Exception as exc:  # a failing pass is logged; the next wake-up tries again
                log.exception("agent job %s failed", getattr(job, "__name__", job))
                failed = jobhealth.record_failure(self.paths.runtime_dir, name, exc, self.clock.now())
                if failed.times == jobhealth.REPEATED:  # said once, in the tray's status
                    self.bus.publish(Event(STATE_CHANGED))
            else:
                jobhealth.record_success(self.paths.runtime_dir, name)

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def _on_start(self) -> None:
        self._on_wake()  # overdue prompts first, then the day's backup
        self.daily_backup()

    def _on_wake(self) -> None:
        self.tick()
        self._reschedule()

    def _reschedule(self) -> None:
        if self.scheduler is None:
            return
        wakeups = self.next_wakeups()
        for name, at in wakeups.items():
            self.scheduler.at(f"wake-{name}", self._on_wake, at)
        due = wakeups["prompt"]
        if due is not None and due - WARM_AHEAD > self.clock.now():
            self.scheduler.at("warm-data", self.chores.warm, due - WARM_AHEAD)

    def _schedule_import(self) -> None:
        if self.scheduler is None:
            return
        if self.settings.import_folder:
            self.scheduler.every("import", self.import_folder, minutes=IMPORT_MINUTES)
        else:
            self.scheduler.cancel("import")

    # --- control channel ----------------------------------------------------------------------

    def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """pause / resume / status / reload / stop from `posture-agent pause|resume|stop` (see control.py), and
        the answers of the window processes (`WINDOW_COMMANDS`)."""
        if request.get("cmd") in WINDOW_COMMANDS:
            return self._window_request(request)
        return answer_request(
            request, pause_for=self.pause_for, resume=self.resume, reload=self.reload_config,
            status=lambda: self.status().to_json(self.journal.zone), stop=self.request_stop,
        )

    def _window_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """A window's answer, on the route of a press in a notification (`save_later`); the reply
        waits for the save, at most ANSWER_WAIT_SECONDS (then "saving": it is still retried)."""
        try:
            if request["cmd"] == "answer":
                active = self.service.open.get(str(request.get("prompt", "")))
                if active is None:
                    return {"ok": False, "error": ALREADY_CLOSED}
                context = request.get("context")
                future = self.answer_later(active, str(request.get("posture", "")),
                                           None if context is None else str(context))
            else:
                active, label, save = window_answer(
                    self.service, request, self.clock.now(), after_run=self.tick,
                    changed=lambda: self.bus.publish(Event(STATE_CHANGED)))
                future = self.save_later(active, label, save)
            reply = future.result(timeout=ANSWER_WAIT_SECONDS)
        except FutureTimeout:  # still retried on the answers thread: kept, never `missed`
            return {"ok": True, "saving": True}
        except (UserError, ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **reply}


def _presence(settings: Settings, paths: Paths) -> Check:
    calendar = calendar_signal(settings, paths.data_dir)
    return presence_check(settings.idle_minutes * 60, calendar, os.environ)
