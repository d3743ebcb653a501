"""The freedesktop `org.freedesktop.Notifications` interface on the session bus, spoken directly
through jeepney (pure Python, nothing compiled), for notifications with action buttons on Linux.

Why jeepney and not a notification library: it adds no measurable memory to the resident agent
and no event loop; the only thread is jeepney's receiver, blocked on the bus socket, which hands
`ActionInvoked` and `NotificationClosed` to the callbacks as they arrive (no polling). The callbacks
run on that thread and must return quickly (hand the work to another thread).

Any client on the session bus can emit a signal named `ActionInvoked`: only those sent by the
notification server count. The bus delivers them only from the unique name that owns
`org.freedesktop.Notifications` (the match rules name it as the sender), and each is checked again
on arrival. A server that restarts has a new unique name: it is followed at the next notification
(the previous server's notifications went with it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from posture_agent import session_bus  # its jeepney names exist only where jeepney is installed (Linux)

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
DEFAULT_ACTION = "default"
"""The action key a server sends for a click on the notification's body."""

OnAction = Callable[[int, str], None]
"""`on_action(notification_id, action_key)`."""
OnClosed = Callable[[int, int], None]
"""`on_closed(notification_id, reason)`: 1 expired, 2 dismissed, 3 closed by a call, 4 other."""


class NotificationsUnavailable(Exception):
    """No session bus, no jeepney, or no notification server on the bus."""


class FreedesktopNotifications:
    """One connection to the session bus. `open()` first; then `capabilities()`, `notify()`,
    `close_notification()`; `close()` at the end."""

    def __init__(self, on_action: OnAction, on_closed: OnClosed) -> None:
        self.on_action = on_action
        self.on_closed = on_closed
        self._router: Any = None
        self._conn: Any = None
        self._bus: Any = None
        self._owner: str | None = None
        """The unique bus name of the notification server whose signals count."""
        self._rules: list[Any] = []
        self._filters: list[Any] = []
        self._lock = threading.Lock()
        self._following = threading.Lock()
        """Held while the match rules change (two notifications sent at once follow the server once)."""

    def open(self) -> FreedesktopNotifications:
        if not session_bus.AVAILABLE:
            raise NotificationsUnavailable("jeepney is not installed")
        try:
            self._router = session_bus.open_router()
            self._conn = self._router.conn
            self._bus = session_bus.bus_proxy(self._router)
            if not self._bus.NameHasOwner(BUS_NAME)[0]:
                raise NotificationsUnavailable("no notification server on the session bus")
            self._follow_server()
        except NotificationsUnavailable:
            self.close()
            raise
        except Exception as exc:  # no bus address, refused connection, a bus that does not answer
            self.close()
            raise NotificationsUnavailable(f"the session bus cannot be reached ({type(exc).__name__}: {exc})") from exc
        return self

    def _follow_server(self) -> None:
        """Listen to the signals of the name's owner now, and to no one else's (again when the
        server was replaced since the last call)."""
        with self._following:
            (owner,) = self._bus.GetNameOwner(BUS_NAME)
            if owner == self._owner:
                return
            self._drop_rules()
            with self._lock:
                self._owner = str(owner)
            for member, handle in (("ActionInvoked", self._action), ("NotificationClosed", self._closed)):
                rule = session_bus.MatchRule(type="signal", sender=owner, interface=INTERFACE, member=member,
                                             path=OBJECT_PATH)
                self._bus.AddMatch(rule)
                self._rules.append(rule)
                self._filters.append(self._router.filter(rule, queue=session_bus.Handoff(handle)))

    def _drop_rules(self) -> None:
        with self._lock:
            rules, self._rules = self._rules, []
            filters, self._filters = self._filters, []
        for handle in filters:
            handle.close()
        for rule in rules:
            try:
                self._bus.RemoveMatch(rule)
            except Exception as exc:  # the bus went away: the rules went with the connection
                log.debug("RemoveMatch failed: %s", exc)

    def capabilities(self) -> frozenset[str]:
        (caps,) = self._call("GetCapabilities", "", ())
        return frozenset(str(c) for c in caps)

    def notify(self, title: str, body: str, actions: Sequence[tuple[str, str]] = (), timeout_s: float = -1,
               app_name: str = "posture-agent", replaces: int = 0) -> int:
        """Show a notification; `actions` are (key, label) pairs. Returns the server's id."""
        flat = [part for key, label in actions for part in (key, label)]
        expire_ms = -1 if timeout_s < 0 else int(timeout_s * 1000)
        hints = {"desktop-entry": ("s", "posture-agent")}
        try:
            self._follow_server()
        except Exception as exc:  # the server went away meanwhile
            raise NotificationsUnavailable(f"no notification server ({type(exc).__name__}: {exc})") from exc
        (nid,) = self._call("Notify", "susssasa{sv}i", (app_name, replaces, "", title, body, flat, hints, expire_ms))
        return int(nid)

    def close_notification(self, nid: int) -> None:
        self._call("CloseNotification", "u", (nid,))

    def close(self) -> None:
        with self._lock:
            router, conn, self._router, self._conn, self._bus = self._router, self._conn, None, None, None
            filters, self._filters, self._rules, self._owner = self._filters, [], [], None
        for handle in filters:
            handle.close()
        if router is not None:
            router.close()
        if conn is not None:
            conn.close()

    def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        router = self._router
        if router is None:
            raise NotificationsUnavailable("the notification connection is closed")
        address = session_bus.DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE)
        try:
            reply = router.send_and_get_reply(session_bus.new_method_call(address, method, signature, body),
                                              timeout=session_bus.CALL_TIMEOUT_S)
            return session_bus.unwrap_msg(reply)
        except Exception as exc:  # the server went away, an error reply, no answer in time
            raise NotificationsUnavailable(f"{method} failed ({type(exc).__name__}: {exc})") from exc

    def _from_server(self, message: Any) -> bool:
        """Whether the signal was sent by the notification server (the bus's sender field)."""
        sender = message.header.fields.get(session_bus.HeaderFields.sender)
        if sender is not None and sender == self._owner:
            return True
        log.warning("ignored a notification signal from %s, not the notification server %s", sender, self._owner)
        return False

    def _action(self, message: Any) -> None:
        if self._from_server(message):
            nid, key = message.body
            self.on_action(int(nid), str(key))

    def _closed(self, message: Any) -> None:
        if self._from_server(message):
            nid, reason = message.body
            self.on_closed(int(nid), int(reason))
