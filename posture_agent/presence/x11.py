"""X11 through python-xlib: input idle time from the MIT-SCREEN-SAVER extension, and whether the
active window (`_NET_ACTIVE_WINDOW`) is fullscreen (`_NET_WM_STATE_FULLSCREEN`: a video, a
presentation, a game). One display connection, opened at the first check and kept; a broken one
is dropped and opened again at the next check.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from posture_agent.presence.base import SignalUnavailable, idle_reason

SCREEN_SAVER_ON = 1


def _open_display(name: str | None) -> Any:
    from Xlib import display  # python-xlib: only where X11 is in use (it is a Linux dependency)

    return display.Display(name)


class X11Connection:
    """The display both X11 signals read, opened lazily (`open_display` is injectable)."""

    def __init__(self, name: str | None = None, open_display: Callable[[str | None], Any] = _open_display) -> None:
        self.name = name
        self.open_display = open_display
        self.lock = threading.Lock()
        self._display: Any = None

    def read(self, what: Callable[[Any], Any]) -> Any:
        """Run `what(display)`; any X error closes the connection and becomes SignalUnavailable."""
        with self.lock:
            try:
                if self._display is None:
                    self._display = self.open_display(self.name)
                return what(self._display)
            except SignalUnavailable:
                raise
            except Exception as exc:  # Xlib raises its own error classes and OSError on a lost server
                self.close_locked()
                raise SignalUnavailable(f"X display {self.name or ''}: {type(exc).__name__}: {exc}") from None

    def close_locked(self) -> None:
        if self._display is not None:
            with contextlib.suppress(Exception):  # already gone
                self._display.close()
            self._display = None


class X11Idle:
    kind = "idle"
    source = "X11 XScreenSaver"

    def __init__(self, connection: X11Connection, idle_seconds: float) -> None:
        self.connection = connection
        self.idle_seconds = idle_seconds

    def away(self, now: datetime) -> str | None:
        def query(display: Any) -> Any:
            if not display.has_extension("MIT-SCREEN-SAVER"):
                raise SignalUnavailable("the X server has no MIT-SCREEN-SAVER extension")
            return display.screen().root.screensaver_query_info()

        info = self.connection.read(query)
        if info.state == SCREEN_SAVER_ON:
            return "screen saver on"
        return idle_reason(info.idle / 1000, self.idle_seconds)


class X11Fullscreen:
    kind = "fullscreen"
    source = "X11 _NET_WM_STATE_FULLSCREEN"

    def __init__(self, connection: X11Connection) -> None:
        self.connection = connection

    def away(self, now: datetime) -> str | None:
        return "fullscreen window" if self.connection.read(active_window_fullscreen) else None


def active_window_fullscreen(display: Any) -> bool:
    """True when the window manager's active window has the fullscreen state."""
    from Xlib import X

    root = display.screen().root
    active = root.get_full_property(display.intern_atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
    if active is None:
        raise SignalUnavailable("the window manager does not publish _NET_ACTIVE_WINDOW")
    if not active.value or not active.value[0]:
        return False
    window = display.create_resource_object("window", int(active.value[0]))
    state = window.get_full_property(display.intern_atom("_NET_WM_STATE"), X.AnyPropertyType)
    return state is not None and display.intern_atom("_NET_WM_STATE_FULLSCREEN") in list(state.value)
