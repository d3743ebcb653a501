"""A notification service of the test's own on a private session bus: it answers the
freedesktop calls, records what it was sent, reports the capabilities it is given, and can press an
action itself (it owns the name, so its `ActionInvoked` is as real as a server's)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

from jeepney import DBusAddress, HeaderFields, MessageType, message_bus, new_error, new_method_return, new_signal
from jeepney.io.blocking import open_dbus_connection

PATH, INTERFACE = "/org/freedesktop/Notifications", "org.freedesktop.Notifications"

INTROSPECTION = """<node><interface name="org.freedesktop.Notifications">
<method name="GetCapabilities"><arg type="as" direction="out"/></method>
<method name="Notify"><arg type="s"/><arg type="u"/><arg type="s"/><arg type="s"/><arg type="s"/>
<arg type="as"/><arg type="a{sv}"/><arg type="i"/><arg type="u" direction="out"/></method>
<method name="CloseNotification"><arg type="u"/></method>
<method name="GetServerInformation"><arg type="s" direction="out"/><arg type="s" direction="out"/>
<arg type="s" direction="out"/><arg type="s" direction="out"/></method>
</interface></node>"""


ANSWERED = frozenset({"Notify", "CloseNotification", "GetCapabilities", "GetServerInformation", "Introspect"})


class NotificationService:
    """`org.freedesktop.Notifications` on the bus at `address`, with these `capabilities`."""

    def __init__(self, address: str, capabilities: tuple[str, ...] = ("body", "actions")) -> None:
        self.conn = open_dbus_connection(bus=address)
        self.capabilities = list(capabilities)
        self.notified: list[tuple[str, list[str]]] = []
        self.notified_at: list[float] = []
        """`time.perf_counter()` when each Notify arrived."""
        self.calls: list[str] = []
        self._next_id = 0
        self._stop = threading.Event()
        self._send = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> NotificationService:
        self.conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications"), timeout=5)
        self._thread.start()
        return self

    def invoke(self, nid: int, key: str) -> None:
        """Press action `key` of notification `nid`, as the server does when the user presses it."""
        signal_msg = new_signal(DBusAddress(PATH, interface=INTERFACE), "ActionInvoked", "us", (nid, key))
        with self._send:
            self.conn.send(signal_msg)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            member = str(msg.header.fields.get(HeaderFields.member))
            self.calls.append(member)
            with self._send:
                if member in ANSWERED:
                    self.conn.send(new_method_return(msg, *self._reply(member, msg.body)))
                else:  # as a real server answers what it does not implement (the `Inhibited` property)
                    self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (member,)))

    def _reply(self, member: str, args: tuple[object, ...]) -> tuple[str, tuple[object, ...]]:
        if member == "Notify":
            self.notified_at.append(time.perf_counter())
            self.notified.append((str(args[3]), [str(a) for a in args[5]]))  # type: ignore[attr-defined]
            self._next_id += 1
            return "u", (self._next_id,)
        return {
            "GetCapabilities": ("as", (self.capabilities,)),
            "GetServerInformation": ("ssss", ("tests", "posture-agent tests", "1", "1.2")),
            "Introspect": ("s", (INTROSPECTION,)),
        }.get(member, ("", ()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.conn.close()


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A session bus of its own (dbus-daemon), stopped by PID at the end; yields its address."""
    bus = subprocess.run(["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1",
                          "--print-pid=1"], capture_output=True, text=True, check=True)
    address, pid = (line.strip() for line in bus.stdout.split("\n")[:2])
    try:
        yield address
    finally:
        os.kill(int(pid), signal.SIGTERM)
