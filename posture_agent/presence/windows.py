"""Windows through ctypes: input idle time from `GetLastInputInfo` against `GetTickCount`, and the
shell's own view of the user from `SHQueryUserNotificationState` (locked or screen saver,
fullscreen app or Direct3D game, presentation mode, Focus Assist's quiet time). The two system
calls are injectable, so this is tested on any platform through fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from posture_agent.presence.base import SignalUnavailable, idle_reason

QUNS_REASONS = {
    1: ("lock", "screen locked"),  # QUNS_NOT_PRESENT: locked, screen saver, fast user switching
    2: ("fullscreen", "fullscreen window"),  # QUNS_BUSY
    3: ("fullscreen", "fullscreen game"),  # QUNS_RUNNING_D3D_FULL_SCREEN
    4: ("fullscreen", "presentation"),  # QUNS_PRESENTATION_MODE
    6: ("dnd", "do not disturb"),  # QUNS_QUIET_TIME (Focus Assist)
    7: ("fullscreen", "fullscreen app"),  # QUNS_APP
}


def idle_milliseconds() -> int:  # pragma: no cover - Windows only
    """Milliseconds since the last keyboard or mouse input in this session."""
    import ctypes
    from ctypes import wintypes

    class LASTINPUTINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.UINT), ("dwTime", wintypes.DWORD)]

    info = LASTINPUTINFO(ctypes.sizeof(LASTINPUTINFO), 0)
    user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined]
    if not user32.GetLastInputInfo(ctypes.byref(info)):
        raise SignalUnavailable("GetLastInputInfo failed")
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    return int((kernel32.GetTickCount() - info.dwTime) & 0xFFFFFFFF)


def notification_state() -> int:  # pragma: no cover - Windows only
    """SHQueryUserNotificationState's QUERY_USER_NOTIFICATION_STATE value."""
    import ctypes

    state = ctypes.c_int(0)
    shell32 = ctypes.WinDLL("shell32")  # type: ignore[attr-defined]
    if shell32.SHQueryUserNotificationState(ctypes.byref(state)) != 0:
        raise SignalUnavailable("SHQueryUserNotificationState failed")
    return state.value


class WindowsIdle:
    kind = "idle"
    source = "Windows GetLastInputInfo"

    def __init__(self, idle_seconds: float, idle_ms: Callable[[], int] = idle_milliseconds) -> None:
        self.idle_seconds = idle_seconds
        self.idle_ms = idle_ms

    def away(self, now: datetime) -> str | None:
        return idle_reason(self.idle_ms() / 1000, self.idle_seconds)


class WindowsNotificationState:
    """Lock, fullscreen, presentation and quiet time all come from this one call."""

    kind = "lock"
    covers = ("lock", "fullscreen", "dnd")
    source = "Windows SHQueryUserNotificationState"

    def __init__(self, query: Callable[[], int] = notification_state) -> None:
        self.query = query

    def away(self, now: datetime) -> str | None:
        kind_reason = QUNS_REASONS.get(self.query())
        return kind_reason[1] if kind_reason else None
