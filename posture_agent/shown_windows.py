"""The windows the resident shows: for the agent's prompts (drills and circuit when due; a check-in
or a soreness question when its notification's body is clicked, or when the server has no action
buttons), for the tray's menu items, and the first start's welcome.

Each window is a process of its own (`prompt_windows.WindowProcess`, given its plain data from
`window_data.py`); prompt windows are on screen one at a time (`prompt_windows.OneAtATime`). Called
from the agent's thread (its events), the tray's thread (menu items) and the windows' watcher
threads (a window gone): every open window is kept under one lock.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posture_agent.agent.events import PROMPT_CLOSED, PROMPT_DUE, WINDOW_WANTED, ActivePrompt, Event
from posture_agent.domain.plan import PromptKind
from posture_agent.prompt_windows import OneAtATime, WindowProcess
from posture_agent.welcome import mark_shown
from posture_agent.window_data import TOO_LATE, window_args

if TYPE_CHECKING:  # the agent is loaded after the icon docks (app.py)
    from posture_agent.agent.core import AgentCore
    from posture_agent.paths import Paths

log = logging.getLogger(__name__)


class ShownWindows:
    """The open windows and whose turn is next. `agent()` is the running agent (whose journal the
    windows' data is read through); `trace(event, **data)` says what the windows did."""

    def __init__(self, paths: Paths, agent: Callable[[], AgentCore], trace: Callable[..., None]) -> None:
        self.paths = paths
        self.agent = agent
        self.trace = trace
        self.open_windows: dict[str, WindowProcess] = {}
        """Open windows by kind ("drills", "checkin", …): opening one again raises it; a prompt's is
        closed when the agent closes the prompt another way."""
        self._lock = threading.Lock()
        self.screen = OneAtATime(trace)
        """One prompt window on screen at a time; the others wait their turn."""

    def on_prompt_event(self, event: Event, active: ActivePrompt) -> None:
        """A prompt's event from the agent: its window shown, queued, or closed."""
        kind = active.prompt.kind
        if event.kind == WINDOW_WANTED and kind == PromptKind.CHECKIN:
            self.show_checkin(active)  # no answer buttons on the notification, or its body clicked
        elif event.kind == WINDOW_WANTED and kind == PromptKind.SORENESS:
            self.screen.offer(active, lambda: self.show(kind, active))  # its notification's body clicked
        elif event.kind == PROMPT_DUE and kind in (PromptKind.DRILLS, PromptKind.CIRCUIT):
            self.screen.offer(active, lambda: self.show(kind, active))
        elif event.kind == PROMPT_CLOSED:
            self.screen.drop(lambda a: a.id != active.id)  # waiting: never shown late; ice only notifies
            if kind == PromptKind.CHECKIN or event.outcome == "missed":
                self.close(active.id)  # answered drills, circuit or report: the user closes it

    def show_checkin(self, active: ActivePrompt) -> None:
        """A check-in's window; a newer check-in replaces an older one (prompted or opened from the
        menu), on screen or waiting."""
        self.screen.drop(lambda a: a.prompt.kind != "checkin")
        with self._lock:
            old = self.open_windows.get("checkin")
        if old is not None and old.running():
            old.close()
            self.trace("closed", window="checkin", why="a newer check-in")
        self.screen.offer(active, lambda: self.show("checkin", active))

    def open(self, name: str) -> None:
        """A menu item's window (no prompt); one per kind: opening it again raises it."""
        self.show(name, None)

    def welcome(self) -> None:
        """The first start's welcome (window_process `welcome`), recorded as shown; it holds the
        screen, so the prompt windows due at start wait until it is closed."""
        mark_shown(self.paths)
        if not self.screen.hold("welcome"):
            return
        self.show("welcome", None)
        with self._lock:
            started = "welcome" in self.open_windows
        if not started:
            self.screen.gone("welcome")

    def show(self, name: str, active: ActivePrompt | None) -> None:
        """Start the window process of `name` (for the prompt `active`, if a prompt opened it);
        whoever offered it to `screen` hears `gone` when it goes."""
        with self._lock:
            existing = self.open_windows.get(name)
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
            agent = self.agent()
            args = window_args(name, active, agent, agent.journal.zone, self.paths.config_file, self.paths.home,
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
                if child is not None and self.open_windows.get(name) is child:
                    del self.open_windows[name]
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
            self.open_windows[name] = child

    def close(self, prompt_id: str | None) -> None:
        """The agent closed this prompt (its timeout, an answer elsewhere); None: every window (Quit).
        Its window goes and stores nothing."""
        with self._lock:
            children = [c for c in self.open_windows.values()
                        if prompt_id is None or (c.active is not None and c.active.id == prompt_id)]
        for child in children:
            if child.running():
                child.close()
                self.trace("closed", window=child.kind, why="prompt closed" if prompt_id else "quit")
