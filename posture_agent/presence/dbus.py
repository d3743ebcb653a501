"""Presence on the session D-Bus through jeepney (pure Python, no system library):
- GNOME: Mutter's IdleMonitor `GetIdletime` (idle time that works on Wayland too) and the session
  manager's `IsInhibited` for idle (a presentation or a video keeps the session awake);
- the screen lock: `GetActive` of org.freedesktop.ScreenSaver (KDE, Xfce, others) or
  org.gnome.ScreenSaver;
- do-not-disturb: the `Inhibited` property of org.freedesktop.Notifications (GNOME, KDE and other
  servers that implement it).
Calls carry NO_AUTO_START, so a check never starts a service, and a short timeout, so a hung
service cannot delay a prompt by more than that.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from posture_agent.presence.base import SignalUnavailable, idle_reason

TIMEOUT_SECONDS = 0.5
IDLE_INHIBIT = 8
"""GsmInhibitorFlag: the session is kept from going idle (what presentation and video apps ask)."""


def session_bus_address(environ: Mapping[str, str]) -> str:
    """The environment's session bus, else the systemd user bus socket."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={runtime}/bus"
    raise SignalUnavailable("no session D-Bus (DBUS_SESSION_BUS_ADDRESS unset)")


def _open_session_bus() -> Any:
    from jeepney.io.blocking import open_dbus_connection

    return open_dbus_connection(bus=session_bus_address(os.environ))


class SessionBus:
    """One connection to the session bus, opened at the first call (`open_bus` is injectable)."""

    def __init__(self, open_bus: Callable[[], Any] = _open_session_bus) -> None:
        self.open_bus = open_bus
        self.lock = threading.Lock()
        self._conn: Any = None

    def call(self, bus_name: str, path: str, interface: str, method: str,
             signature: str | None = None, body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """One method call's reply body; an error reply or a lost bus raises SignalUnavailable."""
        from jeepney import DBusAddress, HeaderFields, MessageFlag, MessageType, new_method_call

        address = DBusAddress(path, bus_name=bus_name, interface=interface)
        message = new_method_call(address, method, signature, body)
        message.header.flags |= MessageFlag.no_auto_start
        with self.lock:
            try:
                if self._conn is None:
                    self._conn = self.open_bus()
                reply = self._conn.send_and_get_reply(message, timeout=TIMEOUT_SECONDS)
            except SignalUnavailable:
                raise
            except Exception as exc:  # no bus, a timeout, a closed socket
                self._close_locked()
                raise SignalUnavailable(f"session bus: {type(exc).__name__}: {exc}") from None
        if reply.header.message_type == MessageType.error:
            detail = reply.body[0] if reply.body else ""
            name = reply.header.fields.get(HeaderFields.error_name, "")
            raise SignalUnavailable(f"{bus_name}: {name or 'error'} {detail}".strip())
        return tuple(reply.body)

    def get_property(self, bus_name: str, path: str, interface: str, name: str) -> Any:
        body = self.call(bus_name, path, "org.freedesktop.DBus.Properties", "Get", "ss", (interface, name))
        return body[0][1]  # a variant: (signature, value)

    def _close_locked(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already gone
                self._conn.close()
            self._conn = None


MUTTER_IDLE = ("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core", "org.gnome.Mutter.IdleMonitor")
SESSION_MANAGER = ("org.gnome.SessionManager", "/org/gnome/SessionManager", "org.gnome.SessionManager")
SCREEN_SAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)
NOTIFICATIONS = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications", "org.freedesktop.Notifications")


class MutterIdle:
    kind = "idle"
    source = "GNOME Mutter IdleMonitor"

    def __init__(self, bus: SessionBus, idle_seconds: float) -> None:
        self.bus = bus
        self.idle_seconds = idle_seconds

    def away(self, now: datetime) -> str | None:
        (milliseconds,) = self.bus.call(*MUTTER_IDLE, "GetIdletime")
        return idle_reason(int(milliseconds) / 1000, self.idle_seconds)


class GnomeInhibited:
    kind = "fullscreen"
    source = "GNOME SessionManager IsInhibited"

    def __init__(self, bus: SessionBus) -> None:
        self.bus = bus

    def away(self, now: datetime) -> str | None:
        (inhibited,) = self.bus.call(*SESSION_MANAGER, "IsInhibited", "u", (IDLE_INHIBIT,))
        return "presentation or video" if inhibited else None


class ScreenSaverActive:
    kind = "lock"

    def __init__(self, bus: SessionBus, service: tuple[str, str, str] = SCREEN_SAVERS[0]) -> None:
        self.bus = bus
        self.service = service
        self.source = service[0]

    def away(self, now: datetime) -> str | None:
        (active,) = self.bus.call(*self.service, "GetActive")
        return "screen locked" if active else None


class NotificationsInhibited:
    kind = "dnd"
    source = "org.freedesktop.Notifications Inhibited"

    def __init__(self, bus: SessionBus) -> None:
        self.bus = bus

    def away(self, now: datetime) -> str | None:
        return "do not disturb" if self.bus.get_property(*NOTIFICATIONS, "Inhibited") else None
