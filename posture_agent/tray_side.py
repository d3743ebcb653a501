"""The tray as the resident drives it: its state read from the agent, its menu's items turned into
calls (a window, the weekly report, undo, pause, Quit), and the documented fallback when the tray's
thread dies (docs/ui.md). The icon is made before the agent exists (it docks while the store opens):
until `agent()` returns one, the menu's items do nothing.
"""
from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posture_agent.paths import Paths
from posture_agent.ui.tray import Tray, TrayActions, TrayState, tray_state_from
from posture_agent.weekly_page import WeeklyReport

if TYPE_CHECKING:  # the agent is loaded after the icon docks (app.py)
    from posture_agent.agent.core import AgentCore

log = logging.getLogger(__name__)


class TraySide:
    """The `Tray` and what its menu calls. `agent()`: the running agent, or None before it is made;
    `open_window(name)`: a menu item's window; `quit()`: the app's Quit."""

    def __init__(self, paths: Paths, agent: Callable[[], AgentCore | None], trace: Callable[..., None],
                 open_window: Callable[[str], None], quit: Callable[[], None], backend: str | None = None,
                 open_url: Callable[[str], object] | None = None) -> None:
        self._agent = agent
        self.trace = trace
        self._open_window = open_window
        self._quit = quit
        self._lock = threading.Lock()
        self._told = False
        """The user was notified that the tray stopped (once, when the agent's notifier is up)."""
        self.report = WeeklyReport(paths, self.agent, trace, self.refresh, self.notify, open_url)
        # The real state follows from `agent.status()` once the agent is attached.
        self.tray = Tray(TrayState(note="Starting…"), self.actions(), backend=backend, on_failure=self._failed)

    def agent(self) -> AgentCore:
        agent = self._agent()
        if agent is None:
            raise RuntimeError("the app has no agent yet")
        return agent

    def state(self) -> TrayState:
        agent = self.agent()  # its zone read each time: a reload (Settings, the welcome) may change it
        note = "Making the weekly report…" if self.report.making else ""
        return tray_state_from(agent.status(), agent.journal.zone, note=note)

    def refresh(self) -> None:
        state = self.state()
        self.tray.update(state)
        self.trace("state", icon=state.icon_state, lines=state.status_lines())

    def actions(self) -> TrayActions:
        def act(name: str, then: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                self.trace("action", name=name)
                if self._agent() is None:
                    log.info("menu item %s before the agent is up: ignored", name)
                    return
                then()

            return run

        def pause(token: str) -> None:
            self.trace("action", name="pause", token=token)
            agent = self._agent()
            if agent is not None:
                agent.pause_for(token)

        def window(name: str) -> Callable[[], None]:
            return lambda: self._open_window(name)

        return TrayActions(
            checkin_now=act("checkin_now", window("checkin")),
            drills=act("drills", window("drills")),
            circuit=act("circuit", window("circuit")),
            log_run=act("run", window("run")),
            soreness=act("soreness", window("soreness")),
            weekly_report=act("weekly_report", self.report.start),
            undo=act("undo", self.undo),
            pause=pause,
            resume=act("resume", lambda: self.agent().resume()),
            settings=act("settings", window("settings")),
            about=act("about", window("about")),
            quit=act("quit", self._quit),
        )

    def undo(self) -> None:
        """Undo last: the agent takes back the last record made on this computer on its answers
        thread; a notification says what was taken back (the journal's line) or why nothing was."""
        future = self.agent().undo_later()

        def done(f: Any) -> None:
            try:
                said = str(f.result().get("said", ""))
            except Exception as exc:  # UserError: nothing to undo; NotSaved: the store refused
                self.trace("undo", ok=False, why=str(exc))
                self.notify("Nothing was undone", str(exc)[:1].upper() + str(exc)[1:])
                return
            self.trace("undo", ok=True, said=said)
            self.notify("Undone", said)

        future.add_done_callback(done)

    def notify(self, title: str, message: str) -> None:
        """A desktop notification through the agent's notifier, if it has one."""
        notifier = self.agent().notifier
        if notifier is not None:
            notifier.notify(title, message)

    # --- the tray failing: the documented fallback -----------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        """The tray's thread died (or its loop ended, or an update raised): one line on stderr,
        the traceback in the log (Tray logged it), one notification, and the app goes on headless:
        prompts still come as notifications and windows; SIGTERM and `posture-agent stop` end it."""
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"posture-agent: the tray stopped ({cause}); running without it (notifications only); "
              "quit with `posture-agent stop`", file=sys.stderr, flush=True)
        self.trace("tray_failed", cause=cause)
        self.tell_stopped()

    def tell_stopped(self) -> None:
        """The tray-stopped notification, once the agent's notifier is up (it may fail before)."""
        agent = self._agent()
        if not self.tray.failed or agent is None or agent.notifier is None:
            return
        with self._lock:
            if self._told:
                return
            self._told = True
        agent.notifier.notify(
            "The posture-agent tray stopped",
            "Prompts go on as notifications and windows. To quit, run: posture-agent stop "
            "(the reason is in the log).")
