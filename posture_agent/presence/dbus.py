"""Presence on the session D-Bus through jeepney (pure Python, no system library):
- GNOME: Mutter's IdleMonitor `GetIdletime` (idle time that works on Wayland too) and the session
  manager's `IsInhibited` for idle (a presentation or a video keeps the session awake);
- the screen lock: `GetActive` of org.freedesktop.ScreenSaver (KDE, Xfce, others) or
  org.gnome.ScreenSaver;
- do-not-disturb: the `Inhibited` property of org.freedesktop.Notifications (GNOME, KDE and other
  servers that implement it).
Calls carry NO_AUTO_START, so a check never starts a service, and a short timeout, so a hung
service cannot delay a prompt by more than that.

`ActiveAgainWatch` is the one-shot "user active again" watch: Mutter's user-active watch and the
screen savers' `ActiveChanged(false)`, armed while a prompt is held.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from posture_agent.presence.base import SignalUnavailable, idle_reason

log = logging.getLogger(__name__)

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


def _open_watch_bus() -> Any:
    """A connection of the watch's own, which another thread can interrupt (jeepney's threading one)."""
    from jeepney.io.threading import open_dbus_connection

    return open_dbus_connection(bus=session_bus_address(os.environ))


def _method_call(service: tuple[str, str, str], method: str, signature: str | None = None,
                 body: tuple[Any, ...] = ()) -> Any:
    """A method call to `service` (bus name, path, interface) that never starts it."""
    from jeepney import DBusAddress, MessageFlag, new_method_call

    bus_name, path, interface = service
    message = new_method_call(DBusAddress(path, bus_name=bus_name, interface=interface), method, signature, body)
    message.header.flags |= MessageFlag.no_auto_start
    return message


class SessionBus:
    """One connection to the session bus, opened at the first call (`open_bus` is injectable)."""

    def __init__(self, open_bus: Callable[[], Any] = _open_session_bus) -> None:
        self.open_bus = open_bus
        self.lock = threading.Lock()
        self._conn: Any = None
        self._said: set[tuple[str, str]] = set()
        """(bus name, method) whose malformed reply was logged already."""

    def call(self, bus_name: str, path: str, interface: str, method: str, signature: str | None = None,
             body: tuple[Any, ...] = (), *, returns: str) -> tuple[Any, ...]:
        """One method call's reply body, which must have the signature `returns`; an error reply, a
        lost bus or a malformed reply raises SignalUnavailable."""
        from jeepney import HeaderFields, MessageType

        message = _method_call((bus_name, path, interface), method, signature, body)
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
        got = reply.header.fields.get(HeaderFields.signature, "")
        if got != returns:
            raise self._malformed(bus_name, method, f"signature {got!r}, expected {returns!r}")
        return tuple(reply.body)

    def get_property(self, bus_name: str, path: str, interface: str, name: str, *, returns: str) -> Any:
        """A property's value, which must be of D-Bus type `returns`."""
        (variant,) = self.call(bus_name, path, "org.freedesktop.DBus.Properties", "Get", "ss", (interface, name),
                               returns="v")
        signature, value = variant
        if signature != returns:
            raise self._malformed(bus_name, f"Get {name}", f"a value of type {signature!r}, expected {returns!r}")
        return value

    def _malformed(self, bus_name: str, method: str, detail: str) -> SignalUnavailable:
        """A reply of the wrong shape: the service is taken as absent, said once in the log (it would
        say the same at every check)."""
        problem = f"{bus_name} {method}: malformed reply ({detail})"
        if (bus_name, method) not in self._said:
            self._said.add((bus_name, method))
            log.warning("%s: the signal is taken as unavailable", problem)
        return SignalUnavailable(problem)

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
        (milliseconds,) = self.bus.call(*MUTTER_IDLE, "GetIdletime", returns="t")
        return idle_reason(int(milliseconds) / 1000, self.idle_seconds)


class GnomeInhibited:
    kind = "fullscreen"
    source = "GNOME SessionManager IsInhibited"

    def __init__(self, bus: SessionBus) -> None:
        self.bus = bus

    def away(self, now: datetime) -> str | None:
        (inhibited,) = self.bus.call(*SESSION_MANAGER, "IsInhibited", "u", (IDLE_INHIBIT,), returns="b")
        return "presentation or video" if inhibited else None


class ScreenSaverActive:
    kind = "lock"

    def __init__(self, bus: SessionBus, service: tuple[str, str, str] = SCREEN_SAVERS[0]) -> None:
        self.bus = bus
        self.service = service
        self.source = service[0]

    def away(self, now: datetime) -> str | None:
        (active,) = self.bus.call(*self.service, "GetActive", returns="b")
        return "screen locked" if active else None


class NotificationsInhibited:
    kind = "dnd"
    source = "org.freedesktop.Notifications Inhibited"

    def __init__(self, bus: SessionBus) -> None:
        self.bus = bus

    def away(self, now: datetime) -> str | None:
        return "do not disturb" if self.bus.get_property(*NOTIFICATIONS, "Inhibited", returns="b") else None


class ActiveAgainWatch:
    """The one-shot watch on the session bus (base.ActiveWatch): Mutter's `AddUserActiveWatch` and
    its `WatchFired` (any input; GNOME), and `ActiveChanged(false)` of org.freedesktop.ScreenSaver
    or org.gnome.ScreenSaver (unlocked; KDE, Xfce, GNOME and others). While armed it holds one
    connection and one thread blocked reading it, with no timeout: nothing wakes it but the bus.
    Where neither service exists both go at once, and the agent's minute re-check alone remains."""

    def __init__(self, open_bus: Callable[[], Any] = _open_watch_bus) -> None:
        self.open_bus = open_bus
        self.lock = threading.Lock()
        self._armed: _Watching | None = None

    def arm(self, on_active: Callable[[], None]) -> None:
        with self.lock:
            if self._armed is not None:
                self._armed.stop()
            self._armed = _Watching(self.open_bus, on_active)
            self._armed.start()

    def disarm(self) -> None:
        with self.lock:
            if self._armed is not None:
                self._armed.stop()
                self._armed = None


class _Watching(threading.Thread):
    """One armed watch: subscribe, wait for the first sign of the user, call back once, close."""

    def __init__(self, open_bus: Callable[[], Any], on_active: Callable[[], None]) -> None:
        super().__init__(name="presence-active-again", daemon=True)
        self.open_bus = open_bus
        self.on_active = on_active
        self.lock = threading.Lock()
        self.stopped = False
        self._conn: Any = None
        self._mutter_watch: int | None = None

    def stop(self) -> None:
        """No call back after this returns; the thread ends at once (its receive is interrupted)."""
        with self.lock:
            self.stopped = True
            if self._conn is not None:
                self._conn.interrupt()

    def run(self) -> None:
        from jeepney.io.threading import ReceiveStopped

        try:
            conn = self.open_bus()
        except Exception as exc:  # no session bus: the minute re-check remains
            log.info("no active-again watch: session bus: %s", exc)
            return
        with self.lock:
            if self.stopped:
                conn.close()
                return
            self._conn = conn
        try:
            self._watch(conn)
        except ReceiveStopped:
            pass  # disarmed
        except Exception as exc:  # the bus went away: the minute re-check remains
            log.info("active-again watch ended: %s: %s", type(exc).__name__, exc)
        finally:
            if self._mutter_watch is not None:  # unless it fired (Mutter drops fired watches itself)
                with contextlib.suppress(Exception):
                    conn.send(_method_call(MUTTER_IDLE, "RemoveWatch", "u", (self._mutter_watch,)))
            conn.close()

    def _watch(self, conn: Any) -> None:
        from jeepney import HeaderFields, MatchRule, MessageType
        from jeepney.bus_messages import message_bus

        pending: dict[int, str] = {}  # serial of a setup call -> what it asks

        def ask(message: Any, what: str) -> None:
            serial = next(conn.outgoing_serial)
            conn.send(message, serial=serial)
            pending[serial] = what

        for _name, path, interface in SCREEN_SAVERS:
            conn.send(message_bus.AddMatch(MatchRule(type="signal", interface=interface, member="ActiveChanged",
                                                     path=path)))
        conn.send(message_bus.AddMatch(MatchRule(type="signal", interface=MUTTER_IDLE[2], member="WatchFired",
                                                 path=MUTTER_IDLE[1])))
        for name, _path, _interface in SCREEN_SAVERS:
            ask(message_bus.NameHasOwner(name), name)
        ask(_method_call(MUTTER_IDLE, "AddUserActiveWatch"), MUTTER_IDLE[0])
        watching: list[str] = []
        while True:
            message = conn.receive()  # no timeout: only the bus (or stop()) wakes this thread
            header = message.header
            if header.message_type in (MessageType.method_return, MessageType.error):
                what = pending.pop(header.fields.get(HeaderFields.reply_serial, 0), None)
                if what is None:
                    continue
                if header.message_type == MessageType.method_return:
                    if what == MUTTER_IDLE[0]:  # the watch's id
                        self._mutter_watch = int(message.body[0])
                        watching.append(what)
                    elif message.body[0]:  # NameHasOwner: a screen saver runs
                        watching.append(what)
                if not pending:
                    if not watching:
                        log.info("no active-again watch on this desktop: a held prompt is re-checked each minute")
                        return
                    log.info("active-again watch armed: %s", ", ".join(watching))
            elif header.message_type == MessageType.signal and self._user_is_back(header, message.body):
                self._fire()
                return

    def _user_is_back(self, header: Any, body: tuple[Any, ...]) -> bool:
        from jeepney import HeaderFields

        member = header.fields.get(HeaderFields.member)
        if member == "ActiveChanged":
            return body == (False,)
        if member == "WatchFired" and self._mutter_watch is not None and body == (self._mutter_watch,):
            self._mutter_watch = None  # fired: Mutter has dropped it
            return True
        return False

    def _fire(self) -> None:
        with self.lock:  # under the lock: stop() cannot return while the call back is under way
            if self.stopped:
                return
            self.stopped = True
            self.on_active()
