"""The StatusNotifierItem tray (ui/sni.py) on a private session bus, read by a host of the tests'
own (tests/sni_host.py) as a panel reads it: registration with the watcher and again when a new
watcher appears, the icon's pixels, title and tooltip, the whole menu through dbusmenu (status
lines, disabled items, the Pause submenu), clicks and the default action reaching the tray's
actions, a change while the menu is open (LayoutUpdated, ids kept), hiding, a bus that goes away.
No X server: the real panel is tests/test_tray_sni_desktop.py's.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jeepney import DBusErrorResponse

from posture_agent.ui.icon import tray_pixmaps
from posture_agent.ui.sni_protocol import ITEM, MENU_PATH, MenuModel, SessionBusLost, introspection
from posture_agent.ui.tray import Tray, TrayActions, TrayState
from tests.sni_host import Panel, Watcher, find, labels, owner, private_bus

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)


class Calls:
    """The tray's actions, recording which ran (on which thread)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.threads: set[str] = set()
        self.done = threading.Condition()

    def __call__(self, name: str) -> Any:
        def run(*args: Any) -> None:
            with self.done:
                self.names.append(name if not args else f"{name} {args[0]}")
                self.threads.add(threading.current_thread().name)
                self.done.notify_all()

        return run

    def wait(self, count: int) -> list[str]:
        with self.done:
            assert self.done.wait_for(lambda: len(self.names) >= count, 5), f"calls so far: {self.names}"
            return list(self.names)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with private_bus() as info:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", info["address"])
        monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # Tray sets it; monkeypatch puts the old one back
        yield info


@pytest.fixture
def watcher(bus: dict[str, Any]) -> Iterator[Watcher]:
    w = Watcher()
    yield w
    w.close()


def state(**changes: Any) -> TrayState:
    base = {"now": NOW, "next_prompt": "check-in", "next_at": NOW + timedelta(minutes=45)}
    return TrayState(**{**base, **changes})


def start_tray(calls: Calls, failures: list[BaseException] | None = None) -> Tray:
    actions = TrayActions(checkin_now=calls("checkin_now"), drills=calls("drills"), pause=calls("pause"),
                          quit=calls("quit"))
    tray = Tray(state(), actions, backend="sni", on_failure=(failures.append if failures is not None else None))
    tray.start()
    assert tray.ready.wait(5), "the icon is shown"
    return tray


def test_item_registers_and_serves_icon_title_and_menu(watcher: Watcher) -> None:
    calls = Calls()
    tray = start_tray(calls)
    panel = None
    try:
        sender, service = watcher.wait_registered()
        assert service.startswith("org.kde.StatusNotifierItem-") and sender.startswith(":")
        panel = Panel(service)
        assert panel.get("Id") == "posture-agent"
        assert panel.get("Status") == "Active" and panel.get("Category") == "ApplicationStatus"
        assert panel.get("Title") == "posture-agent: Next: check-in at 12:45"
        assert panel.get("ToolTip")[2] == "posture-agent: Next: check-in at 12:45"
        assert panel.get("ItemIsMenu") is False and panel.get("Menu") == MENU_PATH
        pixmaps = panel.get("IconPixmap")
        assert [(w, h) for w, h, _ in pixmaps] == [(n, n) for n in (16, 22, 24, 32, 48, 64)]
        assert [tuple(p) for p in pixmaps] == list(tray_pixmaps("normal").sizes)
        assert panel.get("Version", MENU_PATH, "com.canonical.dbusmenu") == 3

        _revision, menu = panel.layout()
        assert labels(menu) == [
            "Next: check-in at 12:45", "-", "Check in now", "Today's drills", "Strength circuit", "Log a run",
            "How's my back?", "Weekly report", "Undo last", "-", "Pause", "-", "Settings", "About", "Quit",
        ]
        status = find(menu, "Next: check-in at 12:45")
        assert status["enabled"] is False
        pause = find(menu, "Pause")
        assert pause["children-display"] == "submenu"
        assert labels(pause["children"]) == ["30 minutes", "1 hour", "2 hours", "Until tomorrow"]

        panel.click(find(menu, "Today's drills")["id"])
        panel.click(status["id"])  # disabled: nothing runs
        panel.click(find(menu, "1 hour")["id"])
        panel.call("/StatusNotifierItem", ITEM, "Activate", "ii", 5, 5)  # a left click: the default item
        assert calls.wait(3) == ["drills", "pause 1h", "checkin_now"]
        assert calls.threads == {"tray"}, "the actions run on the tray's thread, as with pystray's GTK backends"
        assert "Activate" in introspection("/StatusNotifierItem") and "GetLayout" in introspection(MENU_PATH)
        with pytest.raises(DBusErrorResponse) as refused:  # a call of another shape: an error at once, no hang
            panel.call(MENU_PATH, "com.canonical.dbusmenu", "GetLayout", "i", 0)
        assert refused.value.name == "org.freedesktop.DBus.Error.InvalidArgs"
    finally:
        if panel is not None:
            panel.close()
        tray.stop()


def test_a_change_while_the_menu_is_open_updates_it_in_place(watcher: Watcher) -> None:
    """A new state: LayoutUpdated with a new revision, the same ids for the items that stayed,
    NewIcon with the paused pixels, NewTitle and NewToolTip; a state that changes nothing sends
    no LayoutUpdated."""
    tray = start_tray(Calls())
    _sender, service = watcher.wait_registered()
    panel = Panel(service)
    try:
        before_revision, before = panel.layout()
        tray.update(state(paused_until=NOW + timedelta(minutes=30)))
        revision, _parent = panel.wait_signal("LayoutUpdated")
        assert revision > before_revision
        panel.wait_signal("NewIcon")
        panel.wait_signal("NewToolTip")
        after_revision, after = panel.layout()
        assert after_revision == revision
        assert labels(after)[:3] == ["Paused until 12:30", "-", "Check in now"]
        assert "Resume" in labels(after) and "Pause" not in labels(after)
        for kept in ("Check in now", "Today's drills", "Quit"):
            assert find(after, kept)["id"] == find(before, kept)["id"], f"{kept} keeps its id"
        assert [tuple(p) for p in panel.get("IconPixmap")] == list(tray_pixmaps("paused").sizes)
        assert panel.get("Title") == "posture-agent: Paused until 12:30"

        tray.update(state(paused_until=NOW + timedelta(minutes=30)))
        tray.update(state(paused_until=NOW + timedelta(minutes=30)))
        assert panel.layout()[0] == revision and len(panel.signalled("LayoutUpdated")) == 1
    finally:
        panel.close()
        tray.stop()


def test_the_item_registers_again_with_a_restarted_panel_and_leaves_when_stopped(bus: dict[str, Any]) -> None:
    first = Watcher()
    tray = start_tray(Calls())
    try:
        _sender, service = first.wait_registered()
        first.close()  # the panel quits: its watcher's name goes
        second = Watcher()
        try:
            assert second.wait_registered() == (_sender, service), "the same item, registered again"
        finally:
            second.close()
        assert owner(service)
    finally:
        tray.stop()
    assert not owner(service), "stopped: the item's name left the bus"


def test_shown_before_any_panel_it_registers_when_one_appears(bus: dict[str, Any]) -> None:
    tray = start_tray(Calls())
    try:
        watcher = Watcher()
        try:
            _sender, service = watcher.wait_registered()
            assert owner(service)
        finally:
            watcher.close()
    finally:
        tray.stop()


def test_a_panel_that_refuses_the_item_while_starting_is_asked_again(bus: dict[str, Any]) -> None:
    tray = start_tray(Calls())
    try:
        watcher = Watcher(refuse=1)
        try:
            _sender, service = watcher.wait_registered(timeout=5)
            assert watcher.refused == 1 and owner(service)
        finally:
            watcher.close()
    finally:
        tray.stop()


def test_a_bus_that_goes_away_is_a_tray_failure(bus: dict[str, Any], watcher: Watcher) -> None:
    failures: list[BaseException] = []
    tray = start_tray(Calls(), failures)
    watcher.wait_registered()
    subprocess.run(["kill", str(bus["pid"])], check=True)
    assert tray._thread is not None
    tray._thread.join(timeout=5)
    assert not tray._thread.is_alive(), "the tray's thread ended"
    assert len(failures) == 1 and isinstance(failures[0], SessionBusLost)


def test_the_resident_tray_never_loads_pillow_or_a_toolkit(bus: dict[str, Any], watcher: Watcher) -> None:
    """In a process of its own, as `start` runs it: the icon's pixels come from the shipped bytes."""
    code = (
        "import sys\n"
        "from posture_agent.ui.tray import Tray, TrayActions, TrayState\n"
        "tray = Tray(TrayState(note='Starting…'), TrayActions(), backend='sni')\n"
        "tray.start(); assert tray.ready.wait(5)\n"
        "tray.update(TrayState(note='Paused', paused_until=__import__('datetime').datetime(2026, 1, 1)))\n"
        "print(sorted(m for m in ('PIL', 'gi', 'Xlib', 'tkinter') if m in sys.modules))\n"
        "tray.stop()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DBUS_SESSION_BUS_ADDRESS": bus["address"], "PYTHONPATH": sys.path[0]}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


class _Item:
    """Just what MenuModel reads of a pystray MenuItem (pystray itself is not imported here)."""

    def __init__(self, text: str, enabled: bool = True, checked: bool | None = None, radio: bool = False,
                 submenu: list[Any] | None = None) -> None:
        self.text, self.enabled, self.checked, self.radio = text, enabled, checked, radio
        self.submenu = submenu


SEPARATOR = _Item("- - - -")


def test_the_menu_model_keeps_ids_and_bumps_the_revision_only_on_a_change() -> None:
    model = MenuModel(SEPARATOR)
    first = [_Item("Next: drills"), SEPARATOR, _Item("Log_run"), _Item("Dark", checked=True),
             _Item("Pause", submenu=[_Item("1 hour"), _Item("Mode", checked=False, radio=True)])]
    assert model.rebuild(first) and model.revision == 2
    revision, (root_id, root_props, children) = model.layout(0, -1, [])
    assert (root_id, root_props["children-display"]) == (0, ("s", "submenu"))
    entries = [props for _sig, (_id, props, _kids) in children]
    assert entries[1] == {"type": ("s", "separator")}
    assert entries[2]["label"] == ("s", "Log__run"), "an underscore is not a mnemonic"
    assert entries[3]["toggle-type"] == ("s", "checkmark") and entries[3]["toggle-state"] == ("i", 1)
    pause = children[4][1]
    assert [props["label"][1] for _s, (_i, props, _k) in pause[2]] == ["1 hour", "Mode"]
    assert pause[2][1][1][1]["toggle-type"] == ("s", "radio")
    assert model.layout(pause[0], 0, ["label"])[1] == (pause[0], {"label": ("s", "Pause")}, [])

    assert not model.rebuild(list(first)), "the same menu: no new revision"
    second = [_Item("Next: circuit"), *first[1:]]
    assert model.rebuild(second) and model.revision == 3
    _rev, (_root, _props, again) = model.layout(0, -1, [])
    assert [c[1][0] for c in again[1:]] == [c[1][0] for c in children[1:]], "the items that stayed keep their ids"
    assert again[0][1][0] != children[0][1][0], "a new label, a new id"
    assert revision == 2
