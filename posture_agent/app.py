"""The tray app: the one module that knows the agent, the tray and the windows together.

`posture-agent start` calls `run(ctx, agent)`. Threads (see docs/ui.md):
- the main thread waits until Quit (or SIGTERM/SIGINT); it runs no UI toolkit;
- the tray runs on its own thread; its actions start windows or call the agent (on macOS the two
  swap: the tray serves on the main thread, see `serve_tray_here`);
- the agent publishes events on its worker thread; `App.on_event` updates the tray and starts windows.

A job fires → a prompt is shown → the answer is stored, as files:
1. `agent/core.py`: a scheduler job (`agent/scheduler.py`) wakes the agent at the due time;
2. `agent/prompts.py`: the prompt service finds it due and records it as shown, through
   `agent/worker_client.py` → the worker process (`worker.py`) → `journal.py`; it publishes `prompt_due`;
3. `agent/notify.py` asks a check-in or a soreness question in its notification (a press is the
   answer; the body opens the window); here a drills or circuit prompt opens its window: the
   window's data (`window_data.py`), its process (`prompt_windows.py` → `window_process.py`);
4. the window hands the answer to the agent over the control socket (`agent/control.py`,
   `agent/answers.py`); the agent stores it and closes the prompt in one transaction on its answers
   thread, again through the worker process and `journal.py`.
Every window (those of the prompts and of the menu) is a short-lived process of its own given
plain data on its command line; the weekly report is a child `posture-agent report`
(`weekly_page.py`). Tk, matplotlib, the windows' modules, SQLAlchemy and the store never enter
this process. One prompt window is on screen at a time (`prompt_windows.OneAtATime`). The agent's
own timeout stores a missed check-in: a check-in window closing at its countdown stores nothing.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posture_agent.agent.events import (
    PROMPT_CLOSED,
    PROMPT_DUE,
    STATE_CHANGED,
    STOP_WANTED,
    WINDOW_WANTED,
    ActivePrompt,
    Event,
)
from posture_agent.agent.signals import route_signals
from posture_agent.browser import open_page
from posture_agent.domain.plan import PromptKind
from posture_agent.prompt_windows import OneAtATime, WindowProcess
from posture_agent.ui.tray import Tray, TrayActions, TrayState, tray_state_from
from posture_agent.ui.tray_backend import TrayUnavailable
from posture_agent.weekly_page import ReportFailed, write_weekly_page
from posture_agent.welcome import mark_shown
from posture_agent.window_data import TOO_LATE, window_args

if TYPE_CHECKING:
    from posture_agent.agent.core import AgentCore
    from posture_agent.context import Context
    from posture_agent.paths import Paths

log = logging.getLogger(__name__)

Trace = Callable[..., None]
"""`trace(event, **data)`: what the app did (a window mapped, a record stored, the tray's state).
Logged at debug level; tests and the benchmark record it to follow the app from outside."""

DOCK_WAIT_S = 5.0
"""How long `start` waits for the icon to be shown before it opens the store and starts the agent."""


def _debug_trace(event: str, **data: Any) -> None:
    log.debug("app %s %s", event, data)


class App:
    """The wiring. `run()` blocks the calling thread (it becomes the Tk thread) until Quit."""

    def __init__(self, paths: Paths, backend: str | None = None, trace: Trace = _debug_trace,
                 open_url: Callable[[str], object] | None = None) -> None:
        self.paths = paths
        self.trace = trace
        self.open_url = open_url
        self._stopped = threading.Event()
        """Set by Quit (or SIGTERM/SIGINT): `run` returns."""
        self._agent: AgentCore | None = None
        self._tray_started = False
        self.zone: Any = None
        """The agent's time zone, once attached."""
        self.windows: dict[str, WindowProcess] = {}
        """Open windows (each its own process) by kind ("drills", "checkin", …): opening one again
        raises it; a prompt's is closed when the agent closes the prompt another way."""
        self._lock = threading.Lock()
        self.screen = OneAtATime(trace)
        """One prompt window on screen at a time; the others wait their turn."""
        self._making_report = False
        """The weekly report is being made (its child runs): said in the tray's status lines."""
        self._tray_told = False
        """The user was notified that the tray stopped (once, when the agent's notifier is up)."""
        # The first GTK client on a display probes GLX and keeps Mesa and libLLVM mapped for good;
        # the tray draws no GL, so it is told not to, before GTK loads (and, as every change to the
        # environment, before the tray's thread starts).
        os.environ.setdefault("GDK_GL", "disable")
        # The icon can dock before the agent exists (while the store opens); menu items do
        # nothing until `attach`, and the real state follows from `agent.status()`.
        self.tray = Tray(TrayState(note="Starting…"), self.actions(), backend=backend, on_failure=self._tray_failed)

    def start_tray(self, serve_here: bool = False) -> App:
        """Show the icon now, on the tray's thread (before the agent is made: faster to dock); with
        `serve_here`, the caller serves it (`serve_tray_here`, on the main thread)."""
        self._tray_started = True
        self._install_signals()  # a SIGTERM while the agent loads still ends in a clean exit 0
        if not serve_here:
            self.tray.start()
        threading.Thread(target=self._when_docked, name="docked", daemon=True).start()
        return self

    def attach(self, agent: AgentCore) -> None:
        self._agent = agent
        self.zone = agent.journal.zone

    @property
    def agent(self) -> AgentCore:
        if self._agent is None:
            raise RuntimeError("the app has no agent yet")
        return self._agent

    # --- the tray ----------------------------------------------------------------------------------

    def state(self) -> TrayState:
        self.zone = self.agent.journal.zone  # a reload (Settings, the welcome) may have changed it
        note = "Making the weekly report…" if self._making_report else ""
        return tray_state_from(self.agent.status(), self.zone, note=note)

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
            undo=act("undo", self.undo),
            pause=pause,
            resume=act("resume", lambda: self.agent.resume()),
            settings=act("settings", lambda: self.open("settings")),
            about=act("about", lambda: self.open("about")),
            quit=act("quit", self.quit),
        )

    # --- the agent's events (its worker thread) ------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.kind == STOP_WANTED:  # `posture-agent stop`: as Quit
            self.trace("action", name="stop")
            self.stop()
            return
        active = event.active
        if active is not None and event.kind != STATE_CHANGED:
            self._prompt_event(event, active)  # the window first: the tray's state can wait a moment
        self.refresh()

    def _prompt_event(self, event: Event, active: ActivePrompt) -> None:
        kind = active.prompt.kind
        if event.kind == WINDOW_WANTED and kind == PromptKind.CHECKIN:
            self.show_checkin(active)  # no answer buttons on the notification, or its body clicked
        elif event.kind == WINDOW_WANTED and kind == PromptKind.SORENESS:
            self.screen.offer(active, lambda: self._show(kind, active))  # its notification's body clicked
        elif event.kind == PROMPT_DUE and kind in (PromptKind.DRILLS, PromptKind.CIRCUIT):
            self.screen.offer(active, lambda: self._show(kind, active))
        elif event.kind == PROMPT_CLOSED:
            self.screen.drop(lambda a: a.id != active.id)  # waiting: never shown late; ice only notifies
            if kind == PromptKind.CHECKIN or event.outcome == "missed":
                self._close_windows(active.id)  # answered drills, circuit or report: the user closes it

    def show_checkin(self, active: ActivePrompt) -> None:
        """A check-in's window; a newer check-in replaces an older one (prompted or opened from the
        menu), on screen or waiting."""
        self.screen.drop(lambda a: a.prompt.kind != "checkin")
        with self._lock:
            old = self.windows.get("checkin")
        if old is not None and old.running():
            old.close()
            self.trace("closed", window="checkin", why="a newer check-in")
        self.screen.offer(active, lambda: self._show("checkin", active))

    # --- windows: each a process of its own (window_process.py) ---------------------------------------

    def open(self, name: str) -> None:
        """A menu item's window (no prompt); one per kind: opening it again raises it."""
        self._show(name, None)

    def _show(self, name: str, active: ActivePrompt | None) -> None:
        """Start the window process of `name` (for the prompt `active`, if a prompt opened it);
        whoever offered it to `screen` hears `gone` when it goes."""
        with self._lock:
            existing = self.windows.get(name)
            if existing is not None and existing.running():
                if active is not None and existing.active is None:
                    existing.active = active  # the one on screen (opened from the menu) answers it
                    active = None
            else:
                existing = None
        if existing is not None:
            existing.lift()
            self.trace("raised", window=name)
            if active is not None:
                self.screen.gone(active.id)
            return
        try:
            args = window_args(name, active, self.agent, self.zone, self.paths.config_file, self.paths.home,
                               self.paths.data_dir)
        except Exception:
            log.exception("the %s window's data could not be read", name)
            args = "unreadable"
        if isinstance(args, str):
            if args == TOO_LATE and active is not None:
                self.trace("closed", window="checkin", prompt=active.id, why="too late")
            if active is not None:
                self.screen.gone(active.id)
            return
        prompt = active.id if active is not None else None
        holder: list[WindowProcess] = []

        def mapped(after: float) -> None:
            self.trace("mapped", window=name, prompt=prompt, ismapped=1, after=after)

        def said(data: dict[str, Any]) -> None:
            event = str(data.pop("event", "said"))
            self.trace(event, **{"prompt": prompt, **data})

        def gone() -> None:
            child = holder[0] if holder else None
            with self._lock:
                if child is not None and self.windows.get(name) is child:
                    del self.windows[name]
            self.trace("gone", window=name, prompt=prompt)
            answered = child.active if child is not None else active
            if answered is not None:
                self.screen.gone(answered.id)
            elif name == "welcome":
                self.screen.gone(name)  # the prompts held behind it get their turn

        try:
            child = WindowProcess(name, args, self.paths.runtime_dir, self.paths.log_file, mapped, gone, said,
                                  active=active)
        except OSError:
            log.exception("the %s window could not be started", name)
            if active is not None:
                self.screen.gone(active.id)
            return
        holder.append(child)
        with self._lock:
            self.windows[name] = child

    def _close_windows(self, prompt_id: str | None) -> None:
        """The agent closed this prompt (its timeout, an answer elsewhere); None: every window.
        Its window goes and stores nothing."""
        with self._lock:
            children = [c for c in self.windows.values()
                        if prompt_id is None or (c.active is not None and c.active.id == prompt_id)]
        for child in children:
            if child.running():
                child.close()
                self.trace("closed", window=child.kind, why="prompt closed" if prompt_id else "quit")

    # --- menu actions that are not windows -----------------------------------------------------------

    def weekly_report(self) -> None:
        """Write this week's HTML page (charts: matplotlib, loaded now) and open it, off the tray's
        thread. It takes seconds: the tray's status says "Making the weekly report…" and a
        notification says so, until the page opens (or a notification says why it could not be made)."""
        with self._lock:
            if self._making_report:
                self.trace("report_busy")
                return
            self._making_report = True
        self.refresh()
        self.trace("report_making")
        self.agent_notify("Making the weekly report…", "It opens in your browser in a few seconds.")
        threading.Thread(target=self._weekly_report, name="report", daemon=True).start()

    def _weekly_report(self) -> None:
        try:
            target = write_weekly_page(self.agent.clock.now(), self.agent.journal.zone, self.paths)
        except ReportFailed as exc:
            log.warning("the weekly report could not be written: %s", exc)
            self._report_done()
            self.trace("report_failed", why=str(exc))
            self.agent_notify("The weekly report could not be made", str(exc))
            return
        except Exception as exc:
            log.exception("the weekly report could not be written")
            self._report_done()
            self.trace("report_failed", why=f"{type(exc).__name__}: {exc}")
            self.agent_notify("The weekly report could not be made", f"{type(exc).__name__}: {exc} (see the log)")
            return
        self._report_done()
        self.trace("report", path=str(target))
        # the file is always named: a desktop's opener says yes before any browser has come up
        if open_page(target, self.open_url):
            self.agent_notify("Weekly report written", f"Opening it in your browser. The page: {target}")
        else:
            self.agent_notify("Weekly report written", f"No browser could be opened; the page is at {target}")

    def _report_done(self) -> None:
        with self._lock:
            self._making_report = False
        try:
            self.refresh()
        except Exception:
            log.exception("the tray's state could not be read after the report")

    def undo(self) -> None:
        """Undo last: the agent takes back the last record made on this computer on its answers
        thread; a notification says what was taken back (the journal's line) or why nothing was."""
        future = self.agent.undo_later()

        def done(f: Any) -> None:
            try:
                said = str(f.result().get("said", ""))
            except Exception as exc:  # UserError: nothing to undo; NotSaved: the store refused
                self.trace("undo", ok=False, why=str(exc))
                self.agent_notify("Nothing was undone", str(exc)[:1].upper() + str(exc)[1:])
                return
            self.trace("undo", ok=True, said=said)
            self.agent_notify("Undone", said)

        future.add_done_callback(done)

    # --- the tray failing: the documented fallback -----------------------------------------------

    def _tray_failed(self, exc: BaseException) -> None:
        """The tray's thread died (or its loop ended, or an update raised): one line on stderr,
        the traceback in the log (Tray logged it), one notification, and the app goes on headless:
        prompts still come as notifications and windows; SIGTERM and `posture-agent stop` end it."""
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"posture-agent: the tray stopped ({cause}); running without it (notifications only); "
              "quit with `posture-agent stop`", file=sys.stderr, flush=True)
        self.trace("tray_failed", cause=cause)
        self._tell_tray_stopped()

    def _tell_tray_stopped(self) -> None:
        """The tray-stopped notification, once the agent's notifier is up (it may fail before)."""
        agent = self._agent
        if not self.tray.failed or agent is None or agent.notifier is None:
            return
        with self._lock:
            if self._tray_told:
                return
            self._tray_told = True
        agent.notifier.notify(
            "The posture-agent tray stopped",
            "Prompts go on as notifications and windows. To quit, run: posture-agent stop "
            "(the reason is in the log).")

    def agent_notify(self, title: str, message: str) -> None:
        notifier = self.agent.notifier
        if notifier is not None:
            notifier.notify(title, message)

    def quit(self) -> None:
        self.agent.stop()
        self.stop()

    def stop(self) -> None:
        """Make `run` return (any thread)."""
        self._stopped.set()

    # --- running -------------------------------------------------------------------------------------

    def welcome(self) -> None:
        """The first start's welcome (window_process `welcome`), recorded as shown; it holds the
        screen, so the prompt windows due at start wait until it is closed."""
        mark_shown(self.paths)
        if not self.screen.hold("welcome"):
            return
        self._show("welcome", None)
        with self._lock:
            started = "welcome" in self.windows
        if not started:
            self.screen.gone("welcome")

    def run(self, agent: AgentCore, start_agent: bool = True, welcome: bool = False,
            on_started: Callable[[], object] | None = None) -> int:
        """Start the agent (and the tray, unless `start_tray` did), then wait until Quit (or
        SIGTERM/SIGINT); the windows left open are closed then. `welcome`: a first start, whose
        welcome window comes before any prompt's; `on_started()` once the icon is docked and the
        agent has started."""
        self.attach(agent)
        unsubscribe = agent.subscribe(self.on_event)
        tray = self.tray
        if not self._tray_started:
            self.start_tray()
        try:
            if welcome:
                self.welcome()
            if start_agent:
                self.agent.start()
            self._tell_tray_stopped()  # a tray that failed before the notifier was up
            self.refresh()
            self.trace("started", modules=loaded_modules())
            if on_started is not None and self.tray.ready.wait(DOCK_WAIT_S):
                on_started()
            self._stopped.wait()
        finally:
            unsubscribe()
            self._close_windows(None)
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

        def reload() -> None:
            if self._agent is not None:
                self._agent.reload_config()

        route_signals(self.stop, reload)


def loaded_modules() -> list[str]:
    """Which heavy parts are loaded now (the resident agent must not load Tk or charts early)."""
    return sorted(m for m in ("tkinter", "matplotlib", "pystray", "gi", "PIL", "sqlalchemy", "apscheduler", "plyer")
                  if m in sys.modules)


TRAY_ON_MAIN_THREAD = sys.platform == "darwin"
"""AppKit, and with it pystray's icon on macOS, runs on the main thread only: there the tray is served
on the main thread and the agent on a thread of its own (`serve_tray_here`). Elsewhere the tray has a
thread of its own, which docks the icon while the main thread opens the store."""


def serve_tray_here(app: App, body: Callable[[], int]) -> int:
    """Serve the tray on this (the main) thread while `body` (the store, the agent, the wait until
    Quit: the rest of `start`) runs on a thread of its own; whichever ends first, the other follows.
    A tray that fails returns here at once, and the agent goes on headless until it is stopped."""
    outcome: list[int | BaseException] = []

    def agent_side() -> None:
        try:
            waited = 0.0  # dock first, as on the other systems
            while not app.tray.ready.wait(0.05) and not app.tray.failed and waited < DOCK_WAIT_S:
                waited += 0.05
            outcome.append(body())
        except BaseException as exc:  # handed to the main thread, which raises it
            outcome.append(exc)
        finally:
            app.tray.stop()

    side = threading.Thread(target=agent_side, name="agent-side")
    side.start()
    app.tray.serve()
    side.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def dock(ctx: Context, serve_here: bool = False) -> App | None:
    """The app with its icon docking, before the agent is made; None (said on stderr) when no
    tray can be shown here: the agent then runs headless. `serve_here`: the icon is shown once the
    caller serves it (`serve_tray_here`), so this does not wait for it."""
    try:
        app = App(ctx.paths).start_tray(serve_here)
    except TrayUnavailable as exc:
        print(f"posture-agent: {exc}", file=sys.stderr)
        print("posture-agent: running without a tray (notifications only)", file=sys.stderr)
        return None
    except Exception as exc:  # the tray's libraries failed while it was made: the same fallback
        log.exception("the tray could not be made")
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"posture-agent: the tray could not start ({cause}); running without it (notifications only)",
              file=sys.stderr)
        return None
    if serve_here:
        return app
    # Let the tray's thread have the interpreter until the icon is shown: the store and the agent
    # import a lot, and the lock they share would slow the docking down by half. A tray that fails
    # meanwhile has said so (`App._tray_failed`): the app then goes on headless.
    waited = 0.0
    while not app.tray.ready.wait(0.05) and not app.tray.failed:
        waited += 0.05
        if waited >= DOCK_WAIT_S:
            log.warning("the tray icon was not shown within %.0f s; starting the agent anyway", DOCK_WAIT_S)
            break
    return app

