"""The tray app's life cycle and the wiring of its parts; the one module that knows the agent, the
tray and the windows together.

`posture-agent start` calls `dock(ctx)`, then the docked app's `run(agent)`. Its parts, each owning
one thing: `tray_side.py` (the tray: its state from the agent, its menu's items → calls, the tray
failing), `shown_windows.py` (the windows shown for the agent's prompts and the menu, one prompt
window at a time), `weekly_page.py` (the Weekly report). Threads (see docs/ui.md):
- the main thread waits until Quit (or SIGTERM/SIGINT); it runs no UI toolkit;
- the tray runs on its own thread; its actions start windows or call the agent (on macOS the two
  swap: the tray serves on the main thread, see `serve_tray_here`);
- the agent publishes events on its worker thread; `App.on_event` hands them to the windows and
  updates the tray.

A job fires → a prompt is shown → the answer is stored, as files:
1. `agent/core.py`: a scheduler job (`agent/scheduler.py`) wakes the agent at the due time;
2. `agent/prompts.py`: the prompt service finds it due and records it as shown, through
   `agent/worker_client.py` → the worker process (`worker.py`) → `journal.py`; it publishes `prompt_due`;
3. `agent/notify.py` asks a check-in or a soreness question in its notification (a press is the
   answer; the body opens the window); here (`App.on_event`) a drills or circuit prompt goes to
   `shown_windows.py`, which opens its window: the window's data (`window_data.py`), its process
   (`prompt_windows.py` → `window_process.py`);
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

from posture_agent.agent.events import STATE_CHANGED, STOP_WANTED, Event
from posture_agent.agent.signals import route_signals
from posture_agent.shown_windows import ShownWindows
from posture_agent.tray_side import TraySide
from posture_agent.ui.tray import Tray
from posture_agent.ui.tray_backend import TrayUnavailable

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
    """The parts wired together. `run()` blocks the calling thread until Quit."""

    def __init__(self, paths: Paths, backend: str | None = None, trace: Trace = _debug_trace,
                 open_url: Callable[[str], object] | None = None) -> None:
        self.paths = paths
        self.trace = trace
        self._stopped = threading.Event()
        """Set by Quit (or SIGTERM/SIGINT): `run` returns."""
        self._agent: AgentCore | None = None
        self._tray_started = False
        self.windows = ShownWindows(paths, lambda: self.agent, trace)
        # The first GTK client on a display probes GLX and keeps Mesa and libLLVM mapped for good;
        # the tray draws no GL, so it is told not to, before GTK loads (and, as every change to the
        # environment, before the tray's thread starts).
        os.environ.setdefault("GDK_GL", "disable")
        # The icon can dock before the agent exists (while the store opens); menu items do
        # nothing until `attach`.
        self.tray_side = TraySide(paths, lambda: self._agent, trace, self.windows.open, self.quit, backend=backend,
                                  open_url=open_url)

    @property
    def tray(self) -> Tray:
        return self.tray_side.tray

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

    @property
    def agent(self) -> AgentCore:
        if self._agent is None:
            raise RuntimeError("the app has no agent yet")
        return self._agent

    def on_event(self, event: Event) -> None:
        """The agent's events (its worker thread): a prompt's to the windows, then the tray's state."""
        if event.kind == STOP_WANTED:  # `posture-agent stop`: as Quit
            self.trace("action", name="stop")
            self.stop()
            return
        active = event.active
        if active is not None and event.kind != STATE_CHANGED:
            self.windows.on_prompt_event(event, active)  # the window first: the tray's state can wait a moment
        self.tray_side.refresh()

    def quit(self) -> None:
        self.agent.stop()
        self.stop()

    def stop(self) -> None:
        """Make `run` return (any thread)."""
        self._stopped.set()

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
                self.windows.welcome()
            if start_agent:
                self.agent.start()
            self.tray_side.tell_stopped()  # a tray that failed before the notifier was up
            self.tray_side.refresh()
            self.trace("started", modules=loaded_modules())
            if on_started is not None and self.tray.ready.wait(DOCK_WAIT_S):
                on_started()
            self._stopped.wait()
        finally:
            unsubscribe()
            self.windows.close(None)
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
    # meanwhile has said so (`TraySide._failed`): the app then goes on headless.
    waited = 0.0
    while not app.tray.ready.wait(0.05) and not app.tray.failed:
        waited += 0.05
        if waited >= DOCK_WAIT_S:
            log.warning("the tray icon was not shown within %.0f s; starting the agent anyway", DOCK_WAIT_S)
            break
    return app

