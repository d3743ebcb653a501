"""Which signals this platform and desktop session can offer, built once when the agent starts
(and again when the config changes). Order matters only for the reason shown: the lock first,
then idle time, fullscreen, do-not-disturb and the calendar.

- Linux, X11 session: XScreenSaver idle and the fullscreen active window (libxcb), plus the
  D-Bus signals (jeepney). A Wayland session gets only the D-Bus signals: XScreenSaver under
  XWayland sees X clients' input alone, and Wayland has no shared active-window property.
- Windows: GetLastInputInfo and SHQueryUserNotificationState. macOS: CGEventSource idle time.
- Everywhere: the calendar file when one is configured.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from posture_agent.config import Settings
from posture_agent.presence import dbus, macos, windows, x11
from posture_agent.presence.base import ActiveWatch, NoWatch, PresenceCheck, Signal
from posture_agent.presence.calendar import CalendarFile


def signals(
    idle_seconds: float, calendar: CalendarFile | None,
    environ: Mapping[str, str], platform: str = sys.platform,
) -> list[Signal]:
    out: list[Signal] = []
    if platform.startswith("linux") or platform.startswith("freebsd"):
        bus = dbus.SessionBus()
        out += [dbus.ScreenSaverActive(bus, service) for service in dbus.SCREEN_SAVERS]
        out.append(dbus.MutterIdle(bus, idle_seconds))
        if environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
            connection = x11.X11Connection(environ["DISPLAY"])
            out += [x11.X11Idle(connection, idle_seconds), x11.X11Fullscreen(connection)]
        out += [dbus.GnomeInhibited(bus), dbus.NotificationsInhibited(bus)]
    elif platform == "win32":
        out += [windows.WindowsNotificationState(), windows.WindowsIdle(idle_seconds)]
    elif platform == "darwin":
        out.append(macos.MacIdle(idle_seconds))
    if calendar is not None:
        out.append(calendar)
    return out


def calendar_signal(settings: Settings, data_dir: Path) -> CalendarFile | None:
    """The calendar signal of `[presence] calendar` (None when no path is set); its expansion is
    cached in the data folder."""
    if not settings.calendar:
        return None
    return CalendarFile(settings.calendar, settings.zone(), data_dir, settings.hold_tentative)


def presence_check(
    idle_seconds: float, calendar: CalendarFile | None,
    environ: Mapping[str, str], platform: str = sys.platform,
) -> PresenceCheck:
    return PresenceCheck(signals(idle_seconds, calendar, environ, platform))


def active_watch(platform: str = sys.platform) -> ActiveWatch:
    """The one-shot "active again" watch: the session bus's (Mutter, the screen savers) on Linux;
    elsewhere none yet (the agent's minute re-check brings a held prompt back)."""
    if platform.startswith("linux") or platform.startswith("freebsd"):
        return dbus.ActiveAgainWatch()
    return NoWatch()
