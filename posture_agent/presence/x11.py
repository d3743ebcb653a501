"""X11: input idle time from the MIT-SCREEN-SAVER extension, and whether the active window
(`_NET_ACTIVE_WINDOW`) is fullscreen (`_NET_WM_STATE_FULLSCREEN`: a video, a presentation, a game),
through libxcb (`presence/xcb.py`). One display connection, opened at the first check and kept; a
broken one is dropped and opened again at the next check.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from posture_agent.presence import xcb
from posture_agent.presence.base import SignalUnavailable, idle_reason

SCREEN_SAVER_ON = 1


class X11Connection:
    """The display both X11 signals read, opened lazily (`open_display` is injectable)."""

    def __init__(self, name: str | None = None, open_display: Callable[[str | None], Any] = xcb.Connection) -> None:
        self.name = name
        self.open_display = open_display
        self.lock = threading.Lock()
        self._display: Any = None

    def read(self, what: Callable[[Any], Any]) -> Any:
        """Run `what(display)`; a missing part becomes SignalUnavailable, and any other failure also
        closes the connection (the next check opens a new one)."""
        with self.lock:
            try:
                if self._display is None:
                    self._display = self.open_display(self.name)
                return what(self._display)
            except SignalUnavailable:
                raise
            except xcb.NoExtension as exc:
                raise SignalUnavailable(str(exc)) from None
            except Exception as exc:  # a lost server, a library that will not load
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
        state, idle_ms = self.connection.read(lambda display: display.screensaver_info())
        if state == SCREEN_SAVER_ON:
            return "screen saver on"
        return idle_reason(idle_ms / 1000, self.idle_seconds)


class X11Fullscreen:
    kind = "fullscreen"
    source = "X11 _NET_WM_STATE_FULLSCREEN"

    def __init__(self, connection: X11Connection) -> None:
        self.connection = connection

    def away(self, now: datetime) -> str | None:
        return "fullscreen window" if self.connection.read(active_window_fullscreen) else None


def active_window_fullscreen(display: xcb.Connection) -> bool:
    """True when the window manager's active window has the fullscreen state."""
    active = display.cardinals(display.root, "_NET_ACTIVE_WINDOW", 1)
    if active is None:
        raise SignalUnavailable("the window manager does not publish _NET_ACTIVE_WINDOW")
    if not active or not active[0]:
        return False
    fullscreen = display.atom("_NET_WM_STATE_FULLSCREEN")
    try:
        state = display.cardinals(active[0], "_NET_WM_STATE")
    except xcb.WindowGone:
        return False  # closed since the window manager named it: nothing fullscreen to see
    return bool(fullscreen) and state is not None and fullscreen in state
