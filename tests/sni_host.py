"""A StatusNotifierItem host of the tests' own, on a private session bus: a watcher that records
the items registering with it, and a client that reads an item and its menu the way a panel does
(Properties.Get, dbusmenu GetLayout / Event, the item's signals). It checks the D-Bus side of
`posture_agent.ui.sni` without a panel; tests/test_tray_sni_desktop.py checks it in a real one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from posture_agent.session_bus import (
    DBusAddress,
    Handoff,
    HeaderFields,
    MatchRule,
    bus_proxy,
    new_error,
    new_method_call,
    new_method_return,
    open_router,
    unwrap_msg,
)
from posture_agent.ui.sni_protocol import ITEM, ITEM_PATH, MENU, MENU_PATH, WATCHER, WATCHER_PATH


@contextlib.contextmanager
def private_bus() -> Iterator[dict[str, Any]]:
    """A dbus-daemon of the test's own: {"address", "pid"}; stopped by its PID at the end."""
    try:
        bus = subprocess.run(["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1",
                              "--print-pid=1"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("dbus-daemon is not installed (scripts/test.sh installs it as root)")
    address, pid = bus.stdout.split("\n")[:2]
    info = {"address": address.strip(), "pid": int(pid)}
    try:
        yield info
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info["pid"], signal.SIGTERM)


class Watcher:
    """`org.kde.StatusNotifierWatcher` on the bus (the bus address from the environment): every
    RegisterStatusNotifierItem is kept as (sender, service); the first `refuse` are answered with
    an error, as a panel still starting may."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.refused = 0
        self.registered: list[tuple[str, str]] = []
        self.changed = threading.Condition()
        self.router = open_router()
        self._calls = self.router.filter(MatchRule(type="method_call"), queue=Handoff(self._answer))
        (result,) = bus_proxy(self.router).RequestName(WATCHER, 4)
        assert result == 1, "the watcher's name is free"

    def _answer(self, message: Any) -> None:
        member = message.header.fields.get(HeaderFields.member)
        if member == "RegisterStatusNotifierItem" and self.refused < self.refuse:
            self.refused += 1
            self.router.send(new_error(message, "org.freedesktop.DBus.Error.Failed", "s", ("not ready",)))
            return
        if member == "RegisterStatusNotifierItem":
            sender = message.header.fields.get(HeaderFields.sender)
            with self.changed:
                self.registered.append((sender, message.body[0]))
                self.changed.notify_all()
        self.router.send(new_method_return(message, "", ()))

    def wait_registered(self, count: int = 1, timeout: float = 5) -> tuple[str, str]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.registered) >= count, timeout), "the item registers"
            return self.registered[count - 1]

    def close(self) -> None:
        self._calls.close()
        self.router.close()
        self.router.conn.close()


class Panel:
    """Reads one item (by its bus name) as a panel would, and keeps the signals it sends."""

    def __init__(self, service: str, bus: str = "SESSION") -> None:
        self.service = service
        self.router = open_router(bus=bus)
        self.signals: list[tuple[str, tuple[Any, ...]]] = []
        self.lock = threading.Lock()
        for interface in (ITEM, MENU):
            rule = MatchRule(type="signal", interface=interface)
            bus_proxy(self.router).AddMatch(rule)
            self.router.filter(rule, queue=Handoff(self._signal))

    def _signal(self, message: Any) -> None:
        with self.lock:
            self.signals.append((message.header.fields.get(HeaderFields.member), message.body))

    def signalled(self, member: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [body for name, body in self.signals if name == member]

    def wait_signal(self, member: str, count: int = 1, timeout: float = 5) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.signalled(member)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.02)
        raise AssertionError(f"no {member} signal (got {self.signals})")

    def call(self, path: str, interface: str, member: str, signature: str = "", *args: Any) -> tuple[Any, ...]:
        address = DBusAddress(path, bus_name=self.service, interface=interface)
        reply = self.router.send_and_get_reply(new_method_call(address, member, signature or None, args), timeout=5)
        result: tuple[Any, ...] = unwrap_msg(reply)
        return result

    def get(self, name: str, path: str = ITEM_PATH, interface: str = ITEM) -> Any:
        ((_sig, value),) = self.call(path, "org.freedesktop.DBus.Properties", "Get", "ss", interface, name)
        return value

    def layout(self) -> tuple[int, list[dict[str, Any]]]:
        """The whole menu: (revision, entries), each entry {"id", props…, "children": [...]}."""
        revision, root = self.call(MENU_PATH, MENU, "GetLayout", "iias", 0, -1, [])

        def plain(node: Any) -> dict[str, Any]:
            entry_id, props, children = node
            return {"id": entry_id, **{k: v for k, (_s, v) in props.items()},
                    "children": [plain(child) for _sig, child in children]}

        return revision, plain(root)["children"]

    def click(self, entry_id: int) -> None:
        self.call(MENU_PATH, MENU, "Event", "isvu", entry_id, "clicked", ("i", 0), 0)

    def close(self) -> None:
        self.router.close()
        self.router.conn.close()


def find(entries: list[dict[str, Any]], label: str) -> dict[str, Any]:
    for entry in entries:
        if entry.get("label") == label:
            return entry
        with contextlib.suppress(LookupError):
            return find(entry["children"], label)
    raise LookupError(label)


def labels(entries: list[dict[str, Any]]) -> list[str]:
    return ["-" if e.get("type") == "separator" else e["label"] for e in entries]


def owner(name: str) -> bool:
    router = open_router()
    try:
        return bool(bus_proxy(router).NameHasOwner(name)[0])
    finally:
        router.close()
        router.conn.close()


__all__ = ["WATCHER_PATH", "Panel", "Watcher", "find", "labels", "owner", "private_bus"]
