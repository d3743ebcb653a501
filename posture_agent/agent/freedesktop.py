"""The freedesktop `org.freedesktop.Notifications` interface on the session bus, spoken directly
through jeepney (pure Python, nothing compiled), for notifications with action buttons on Linux.

Why jeepney and not a notification library: it adds no measurable memory to the resident agent
and no event loop; the only thread is jeepney's receiver, blocked on the bus socket, which hands
`ActionInvoked` and `NotificationClosed` to the callbacks as they arrive (no polling). The callbacks
run on that thread and must return quickly (hand the work to another thread).
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
        self._filters: list[Any] = []
        self._lock = threading.Lock()

    def open(self) -> FreedesktopNotifications:
        if not session_bus.AVAILABLE:
            raise NotificationsUnavailable("jeepney is not installed")
        try:
            self._router = session_bus.open_router()
            self._conn = self._router.conn
            bus = session_bus.bus_proxy(self._router)
            for member, handle in (("ActionInvoked", self._action), ("NotificationClosed", self._closed)):
                rule = session_bus.MatchRule(type="signal", interface=INTERFACE, member=member, path=OBJECT_PATH)
                bus.AddMatch(rule)
                handoff = session_bus.Handoff(handle)
                self._filters.append(self._router.filter(rule, queue=handoff))
            if not bus.NameHasOwner(BUS_NAME)[0]:
                raise NotificationsUnavailable("no notification server on the session bus")
        except NotificationsUnavailable:
            self.close()
            raise
        except Exception as exc:  # no bus address, refused connection, a bus that does not answer
            self.close()
            raise NotificationsUnavailable(f"the session bus cannot be reached ({type(exc).__name__}: {exc})") from exc
        return self

    def capabilities(self) -> frozenset[str]:
        (caps,) = self._call("GetCapabilities", "", ())
        return frozenset(str(c) for c in caps)

    def notify(self, title: str, body: str, actions: Sequence[tuple[str, str]] = (), timeout_s: float = -1,
               app_name: str = "posture-agent", replaces: int = 0) -> int:
        """Show a notification; `actions` are (key, label) pairs. Returns the server's id."""
        flat = [part for key, label in actions for part in (key, label)]
        expire_ms = -1 if timeout_s < 0 else int(timeout_s * 1000)
        hints = {"desktop-entry": ("s", "posture-agent")}
        (nid,) = self._call("Notify", "susssasa{sv}i", (app_name, replaces, "", title, body, flat, hints, expire_ms))
        return int(nid)

    def close_notification(self, nid: int) -> None:
        self._call("CloseNotification", "u", (nid,))

    def close(self) -> None:
        with self._lock:
            router, conn, self._router, self._conn = self._router, self._conn, None, None
            filters, self._filters = self._filters, []
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

    def _action(self, message: Any) -> None:
        nid, key = message.body
        self.on_action(int(nid), str(key))

    def _closed(self, message: Any) -> None:
        nid, reason = message.body
        self.on_closed(int(nid), int(reason))
