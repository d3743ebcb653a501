"""The tray app: the one module that knows the agent, the tray, the windows and the journal together.

`posture-agent start` calls `run(ctx, agent)`. Threads (see docs/ui.md):
- the main thread runs the `Dispatcher` (Tk, imported only when the first window opens);
- the tray runs on its own thread; its actions post to the dispatcher or call the agent;
- the agent publishes events on its worker thread; `App.on_event` updates the tray and posts windows.

Windows get plain data and callbacks; the callbacks write through `agent.journal` (or the agent's
answer/skip), so no UI code opens a session. A prompted check-in's window is a process of its own
(`window_process.py`) that answers over the control socket. One prompt window is on screen at a time
(`prompt_windows.OneAtATime`). The agent's own timeout stores a missed check-in: a check-in window
closing at its countdown stores nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posture_agent import __version__
from posture_agent.agent.events import PROMPT_CLOSED, PROMPT_DUE, STATE_CHANGED, WINDOW_WANTED, ActivePrompt, Event
from posture_agent.domain.plan import PromptKind
from posture_agent.prompt_windows import CheckinProcess, OneAtATime
from posture_agent.ui.dispatcher import Dispatcher
from posture_agent.ui.tray import Tray, TrayActions, TrayState, tray_state_from
from posture_agent.ui.tray_backend import TrayUnavailable

if TYPE_CHECKING:
    from posture_agent.agent.runtime import Agent
    from posture_agent.context import Context
    from posture_agent.paths import Paths

log = logging.getLogger(__name__)

Trace = Callable[..., None]
"""`trace(event, **data)`: what the app did (a window mapped, a record stored, the tray's state).
Logged at debug level; tests and the benchmark record it to follow the app from outside."""

DOCK_WAIT_S = 5.0
"""How long `start` waits for the icon to be shown before it opens the store and starts the agent."""
MIN_CHECKIN_S = 10.0
"""A check-in window with less time than this left is not shown (its answer would be rushed)."""


def _debug_trace(event: str, **data: Any) -> None:
    log.debug("app %s %s", event, data)


class App:
    """The wiring. `run()` blocks the calling thread (it becomes the Tk thread) until Quit."""

    def __init__(self, paths: Paths, backend: str | None = None, trace: Trace = _debug_trace,
                 open_url: Callable[[str], object] | None = None) -> None:
        self.paths = paths
        self.trace = trace
        self.open_url = open_url
        self.dispatcher = Dispatcher()
        self._agent: Agent | None = None
        self._tray_started = False
        self.zone: Any = None
        """The agent's time zone, once attached."""
        self.windows: dict[str, Any] = {}
        """Open windows by name ("drills", "checkin", …): opening one again raises it."""
        self.checkins: dict[str, CheckinProcess] = {}
        """Check-in windows (each its own process) by the agent's prompt id, closed when the agent
        closes the prompt."""
        self._checkins_lock = threading.Lock()
        self.screen = OneAtATime(trace)
        """One prompt window on screen at a time; the others wait their turn."""
        # The first GTK client on a display probes GLX and keeps Mesa and libLLVM mapped for good;
        # the tray draws no GL, so it is told not to, before GTK loads (and, as every change to the
        # environment, before the tray's thread starts).
        os.environ.setdefault("GDK_GL", "disable")
        # The icon can dock before the agent exists (while the store opens); menu items do
        # nothing until `attach`, and the real state follows from `agent.status()`.
        self.tray = Tray(TrayState(note="Starting…"), self.actions(), backend=backend)

    def start_tray(self) -> App:
        """Show the icon now, on the tray's thread (before the agent is made: faster to dock)."""
        self._tray_started = True
        self._install_signals()  # a SIGTERM while the agent loads still ends in a clean exit 0
        self.tray.start()
        threading.Thread(target=self._when_docked, name="docked", daemon=True).start()
        return self

    def attach(self, agent: Agent) -> None:
        self._agent = agent
        self.zone = agent.journal.zone

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("the app has no agent yet")
        return self._agent

    # --- the tray ----------------------------------------------------------------------------------

    def state(self) -> TrayState:
        return tray_state_from(self.agent.status(), self.zone)

    def refresh(self) -> None:
        state = self.state()
        self.tray.update(state)
        self.trace("state", icon=state.icon_state, lines=state.status_lines())

    def actions(self) -> TrayActions:
        def act(name: str, then: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                self.trace("action", name=name)
                if self._agent is None:
                    log.info("menu item %s before the agent is up: ignored", name)
                    return
                then()

            return run

        def pause(token: str) -> None:
            self.trace("action", name="pause", token=token)
            if self._agent is not None:
                self._agent.pause_for(token)

        return TrayActions(
            checkin_now=act("checkin_now", lambda: self.open("checkin")),
            drills=act("drills", lambda: self.open("drills")),
            circuit=act("circuit", lambda: self.open("circuit")),
            log_run=act("run", lambda: self.open("run")),
            soreness=act("soreness", lambda: self.open("soreness")),
            weekly_report=act("weekly_report", self.weekly_report),
            pause=pause,
            resume=act("resume", lambda: self.agent.resume()),
            settings=act("settings", lambda: self.open("settings")),
            about=act("about", lambda: self.open("about")),
            quit=act("quit", self.quit),
        )

    # --- the agent's events (its worker thread) ------------------------------------------------------

    def on_event(self, event: Event) -> None:
        active = event.active
        if active is not None and event.kind != STATE_CHANGED:
            self._prompt_event(event, active)  # the window first: the tray's state can wait a moment
        self.refresh()

    def _prompt_event(self, event: Event, active: ActivePrompt) -> None:
        kind = active.prompt.kind
        if event.kind == WINDOW_WANTED and kind == PromptKind.CHECKIN:
            self.show_checkin(active)  # no answer buttons on the notification, or its body clicked
        elif event.kind == PROMPT_DUE and kind in (PromptKind.DRILLS, PromptKind.CIRCUIT, PromptKind.SORENESS):
            self.screen.offer(active, lambda: self.dispatcher.post(lambda root: self._show_tk(kind, root, active)))
        elif event.kind == PROMPT_CLOSED:
            self.screen.drop(lambda a: a.id != active.id)  # waiting: never shown late; ice only notifies
            self._close_checkin(active.id)

    def show_checkin(self, active: ActivePrompt) -> None:
        """A check-in's window, in a process of its own; a newer check-in replaces an older one,
        on screen or waiting."""
        self.screen.drop(lambda a: a.prompt.kind != "checkin")
        self._close_checkin(None)
        self.screen.offer(active, lambda: self._start_checkin(active))

    def _start_checkin(self, active: ActivePrompt) -> None:
        remaining = (self.agent.deadline(active) - self.agent.clock.now()).total_seconds()
        if remaining < MIN_CHECKIN_S:  # waited behind another prompt until too late to answer truly
            self.trace("closed", window="checkin", prompt=active.id, why="too late")
            self.screen.gone(active.id)
            return

        def mapped(after: float) -> None:
            self.trace("mapped", window="checkin", prompt=active.id, ismapped=1, after=after)

        def gone() -> None:
            with self._checkins_lock:
                self.checkins.pop(active.id, None)
            self.trace("gone", window="checkin", prompt=active.id)
            self.screen.gone(active.id)

        try:
            child = CheckinProcess(active, self.paths.runtime_dir, remaining, self.paths.log_file, mapped, gone)
        except OSError:
            log.exception("the check-in window could not be started")
            self.screen.gone(active.id)
            return
        with self._checkins_lock:
            self.checkins[active.id] = child

    def _show_tk(self, name: str, root: Any, active: ActivePrompt) -> None:
        """On the UI thread: a prompt's window in this process (drills, circuit, soreness)."""
        try:
            window = self._open(name, root, active)
        except Exception:
            self.screen.gone(active.id)  # the next prompt's turn all the same
            raise
        win = window.win

        def gone(event: Any) -> None:
            if str(event.widget) == str(win):
                self.screen.gone(active.id)

        win.bind("<Destroy>", gone, add="+")

    def _close_checkin(self, prompt_id: str | None) -> None:
        """The agent closed this check-in prompt (its timeout, an answer elsewhere); None: every one.
        Its window goes and stores nothing."""
        with self._checkins_lock:
            children = [c for pid, c in self.checkins.items() if prompt_id is None or pid == prompt_id]
        for child in children:
            if child.proc.poll() is None:
                child.close()
                self.trace("closed", window="checkin", why="prompt closed")

    # --- windows (built on the UI thread) ----------------------------------------------------------

    def open(self, name: str, active: ActivePrompt | None = None) -> None:
        self.dispatcher.post(lambda root: self._open(name, root, active))

    def _open(self, name: str, root: Any, active: ActivePrompt | None) -> Any:
        existing = self.windows.get(name)
        if existing is not None and existing.win.winfo_exists():
            existing.win.deiconify()
            existing.win.lift()
            return existing
        window = getattr(self, f"_build_{name}")(root, active)
        self.windows[name] = window
        self.trace("mapped", window=name, ismapped=window.win.winfo_ismapped())
        return window

    def _build_checkin(self, root: Any, _active: ActivePrompt | None) -> Any:
        """Check in now: an unprompted check-in (nothing is stored when it is closed unanswered)."""
        from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

        journal = self.agent.journal
        context = "sofa" if self.agent.clock.now().astimezone(self.zone).hour >= 18 else "desk"

        def answer(posture: str, ctx: str) -> None:
            journal.record_checkin(posture, ctx, source="tray")
            self.trace("checkin", posture=posture, context=ctx, prompt=None)

        return CheckinWindow(
            root, CheckinPrompt(context, self.agent.settings.prompt_timeout_minutes * 60), answer,
            on_skip=lambda _ctx: None, on_timeout=lambda: None, where="center",
        )

    def _build_drills(self, root: Any, active: ActivePrompt | None) -> Any:
        from posture_agent.ui.windows.drills import DrillItem, DrillsWindow

        journal, zone = self.agent.journal, self.zone
        states = journal.drills_for()
        items = [DrillItem(s.drill.name, s.drill.title, s.drill.how, s.drill.dose,
                           f"{s.done_at.astimezone(zone):%H:%M}" if s.done_at else None) for s in states]
        todo = {s.drill.name for s in states if s.done_at is None}

        def tick(name: str) -> str:
            done = journal.record_drills([name], source="tray")[0]
            self.trace("drill", name=name)
            todo.discard(name)
            if not todo:
                self.answered(active)
            return f"{done.at.astimezone(zone):%H:%M}"

        heading = f"Today's drills, {journal.now().astimezone(zone):%a %d %b}"
        return DrillsWindow(root, items, tick, heading=heading)

    def _build_circuit(self, root: Any, active: ActivePrompt | None) -> Any:
        from posture_agent.ui.windows.drills import CircuitWindow, DrillItem

        journal, settings = self.agent.journal, self.agent.settings
        exercises = [DrillItem(n, settings.catalogue[n].title, settings.catalogue[n].how, settings.catalogue[n].dose)
                     for n in settings.circuit_exercises]

        def done(rounds: int) -> None:
            journal.record_circuit(rounds, source="tray")
            self.trace("circuit", rounds=rounds)
            self.answered(active)

        return CircuitWindow(root, exercises, settings.circuit_rounds, done)

    def _build_run(self, root: Any, _active: ActivePrompt | None) -> Any:
        from posture_agent.ui.windows.run import RunWindow, run_defaults

        journal, zone = self.agent.journal, self.zone
        runs = journal.runs()
        last = (runs[-1].distance_km, runs[-1].duration) if runs else None

        def save(start: datetime, duration: timedelta, km: float) -> str | None:
            saved = journal.add_run(start, duration, km, source="tray")
            self.trace("run", id=saved.run.id, warning=saved.warning)
            self.agent.tick()  # the soreness prompts of this run are planned from now on
            return saved.warning

        return RunWindow(root, run_defaults(journal.now().astimezone(zone), last), zone, save)

    def _build_soreness(self, root: Any, active: ActivePrompt | None) -> Any:
        from posture_agent.domain import advice as rules
        from posture_agent.ui.windows.soreness import SorenessWindow

        journal, zone = self.agent.journal, self.zone

        def save(values: dict[str, int], form: frozenset[str], si_pain: bool) -> list[str]:
            _report, advice = journal.record_soreness(dict(values), form=form, si_pain=si_pain, source="tray")
            self.trace("soreness", values=values)
            self.answered(active)
            self.refresh()  # an SI protocol that starts now changes the icon at once
            return rules.messages(advice, zone)

        return SorenessWindow(root, save)

    def _build_settings(self, root: Any, _active: ActivePrompt | None) -> Any:
        from posture_agent.ui.settings_file import save_settings
        from posture_agent.ui.windows.settings import SettingsWindow, settings_values

        config = self.paths.config_file

        def save(changes: dict[str, Any]) -> None:
            save_settings(config, changes)
            self.trace("settings", changes=changes)
            self.agent.reload_config()  # at once, not at the next minute's check

        return SettingsWindow(root, settings_values(self.agent.settings), save, str(config))

    def _build_about(self, root: Any, _active: ActivePrompt | None) -> Any:
        from posture_agent.ui.windows.about import AboutWindow

        return AboutWindow(root, __version__, str(self.paths.data_dir), str(self.paths.config_file))

    def answered(self, active: ActivePrompt | None) -> None:
        """A window opened by a prompt did what the prompt asked: close the prompt as answered."""
        if active is not None and active.id in {a.id for a in self.agent.status().open_prompts}:
            self.agent.answer(active)

    # --- menu actions that are not windows -----------------------------------------------------------

    def weekly_report(self) -> None:
        """Write this week's HTML page (charts: matplotlib, loaded now) and open it, off the tray's thread."""
        threading.Thread(target=self._weekly_report, name="report", daemon=True).start()

    def _weekly_report(self) -> None:
        try:
            target = write_weekly_page(self.agent, self.paths)
        except ReportFailed as exc:
            log.warning("the weekly report could not be written: %s", exc)
            self.agent_notify("The weekly report could not be made", str(exc))
            return
        self.trace("report", path=str(target))
        opener = self.open_url
        if opener is None:
            import webbrowser

            opener = webbrowser.open
        if not opener(target.resolve().as_uri()):
            self.agent_notify("Weekly report written", f"No browser could be opened; the page is at {target}")

    def agent_notify(self, title: str, message: str) -> None:
        notifier = self.agent.notifier
        if notifier is not None:
            notifier.notify(title, message)

    def quit(self) -> None:
        self.agent.stop()
        self.dispatcher.stop()

    # --- running -------------------------------------------------------------------------------------

    def run(self, agent: Agent, start_agent: bool = True) -> int:
        """Start the agent (and the tray, unless `start_tray` did), serve windows until Quit
        (or SIGTERM/SIGINT)."""
        self.attach(agent)
        unsubscribe = agent.subscribe(self.on_event)
        tray = self.tray
        if not self._tray_started:
            self.start_tray()
        try:
            if start_agent:
                self.agent.start()
            self.refresh()
            self.trace("started", modules=loaded_modules())
            self.dispatcher.run()
        finally:
            unsubscribe()
            self.agent.stop()
            tray.stop()
            self.trace("stopped")
        return 0

    def _when_docked(self) -> None:
        self.tray.ready.wait()
        self.trace("tray_ready", backend=self.tray.backend, modules=loaded_modules())

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        from posture_agent.agent.signals import route_signals

        def reload() -> None:
            if self._agent is not None:
                self._agent.reload_config()

        route_signals(self.dispatcher.stop, reload)


def loaded_modules() -> list[str]:
    """Which heavy parts are loaded now (the resident agent must not load Tk or charts early)."""
    return sorted(m for m in ("tkinter", "matplotlib", "pystray", "gi", "sqlalchemy", "apscheduler", "plyer")
                  if m in sys.modules)


class ReportFailed(Exception):
    """The child that renders the weekly page failed; the message is its one line for the user."""


REPORT_TIMEOUT_S = 120


def self_command() -> list[str]:
    """How to run this program's own command line in a child process (a frozen build is its own
    executable)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "posture_agent"]


def write_weekly_page(agent: Agent, paths: Paths) -> Path:
    """This week's report page (12 weeks of history, as `report --open` writes it), rendered by a
    child `posture-agent report`: matplotlib and numpy never enter the resident process."""
    now = agent.clock.now()
    year, week, _ = now.astimezone(agent.journal.zone).isocalendar()
    label = f"{year}-W{week:02d}"
    folder = paths.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"report-{label}.html"
    home = ["--home", str(paths.home)] if paths.home is not None else []
    try:
        done = subprocess.run([*self_command(), *home, "report", "--week", label, "--html", str(target), "--json"],
                              capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReportFailed(f"the report process did not finish ({type(exc).__name__}: {exc})") from exc
    if done.returncode != 0 or not target.exists():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ReportFailed(lines[-1] if lines else f"the report process ended with exit code {done.returncode}")
    return target


def dock(ctx: Context) -> App | None:
    """The app with its icon docking, before the agent is made; None (said on stderr) when no
    tray can be shown here: the agent then runs headless."""
    try:
        app = App(ctx.paths).start_tray()
    except TrayUnavailable as exc:
        print(f"posture-agent: {exc}", file=sys.stderr)
        print("posture-agent: running without a tray (notifications only)", file=sys.stderr)
        return None
    # Let the tray's thread have the interpreter until the icon is shown: the store and the agent
    # import a lot, and the lock they share would slow the docking down by half.
    if not app.tray.ready.wait(DOCK_WAIT_S):
        log.warning("the tray icon was not shown within %.0f s; starting the agent anyway", DOCK_WAIT_S)
    return app

