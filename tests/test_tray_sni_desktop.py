"""The tray in a real StatusNotifierItem host: xfce4-panel's systray on the virtual desktop (Xvfb, a
private bus, dunst), the app (tests/ui_harness.py: the real App on a real Agent and SQLite file)
choosing our own D-Bus backend by itself. The icon docks (its pixels on the panel), every menu item
is reached by mouse clicks (xdotool) at the rows the panel draws, states change the icon and the
menu (also while it is open), and the panel killed and started again shows the icon again with a
working menu. Where only an XEmbed tray runs (trayer), pystray's gtk backend still serves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.desktop import Desktop, desktop, sni_desktop, wait_for
from tests.processes import rows
from tests.sni_host import Panel, labels
from tests.test_tray_desktop import App, pixels, shots, skip_without_pygobject

__all__ = ["desktop", "shots", "sni_desktop"]

pytestmark = pytest.mark.desktop
ROOT = Path(__file__).resolve().parent.parent

ROW, PAD, SEPARATOR = 25, 4, 1
"""The panel's menu (GTK 3's default theme): 25 px per item, 4 px padding, 1 px per separator."""


class SniApp(App):
    """The harness app in xfce4-panel: the panel draws the icon itself, so it is found by its pixels."""

    def icon_box(self) -> tuple[int, int, int, int] | None:
        """x0, y0, x1, y1 of what is drawn on the panel (only the systray plugin is on it)."""
        panel = self.desktop.panel()
        if panel is None:
            return None
        x, y, w, h = self.desktop.geometry(panel)
        from PIL import Image

        edge = 3  # the panel's own border lines run its whole length
        inner = f"{w - 2 * edge}x{h - 2 * edge}+{x + edge}+{y + edge}"
        shot = self.desktop.screenshot(self.events_file.parent / "panel.png", crop=inner)
        with Image.open(shot) as img:
            width = img.width
            found = [i for i, p in enumerate(pixels(img)) if min(p) < 200]
        if len(found) < 50:
            return None
        xs, ys = [i % width for i in found], [i // width for i in found]
        return x + edge + min(xs), y + edge + min(ys), x + edge + max(xs), y + edge + max(ys)

    def docked(self) -> bool:
        return self.icon_box() is not None

    def icon_centre(self) -> tuple[int, int]:
        box = self.icon_box()
        assert box is not None, "the icon is on the panel"
        return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2

    def item(self) -> Panel:
        """The app's StatusNotifierItem, read over the desktop's bus as the panel reads it."""
        return Panel(f"org.kde.StatusNotifierItem-{self.proc.pid}-1", bus=self.desktop.env["DBUS_SESSION_BUS_ADDRESS"])

    def open_menu(self) -> tuple[int, int]:
        """Right-click the icon; the open menu's top-left corner."""
        x, y = self.icon_centre()
        self.desktop.run("xdotool", "mousemove", str(x), str(y), "click", "3", check=True)
        self.desktop.wait_for_menus(1)
        time.sleep(0.3)  # mapped, then painted
        return menu_corner(self.desktop)

    def click(self, label: str, menu: tuple[int, int], entries: list[str]) -> None:
        """Click the row of `label` in the open menu whose top-left corner is `menu`."""
        x, y = menu
        before = entries[: entries.index(label)]
        row_y = y + PAD + ROW * sum(e != "-" for e in before) + SEPARATOR * before.count("-") + ROW // 2
        self.desktop.run("xdotool", "mousemove", str(x + 40), str(row_y), "sleep", "0.2", "click", "1", check=True)

    def pick(self, label: str, path: tuple[str, ...] = ()) -> None:
        """Open the menu and click `label` (inside the submenus named by `path`)."""
        panel = self.item()
        try:
            _revision, tree = panel.layout()
        finally:
            panel.close()
        corner = self.open_menu()
        for name in path:
            self.click(name, corner, labels(tree))
            self.desktop.wait_for_menus(2)
            time.sleep(0.3)
            tree = next(e for e in tree if e.get("label") == name)["children"]
            corner = menu_corner(self.desktop, last=True)
        self.click(label, corner, labels(tree))


def menu_corner(d: Desktop, last: bool = False) -> tuple[int, int]:
    """Top-left corner of the first (or the last opened) popup menu on screen."""
    shown = d.run("xdotool", "search", "--onlyvisible", "--name", "").stdout.split()
    kinds = {w: d.run("xprop", "-id", w, "_NET_WM_WINDOW_TYPE").stdout for w in shown}
    menus = [w for w, kind in kinds.items() if "_NET_WM_WINDOW_TYPE_POPUP_MENU" in kind]
    assert menus, "a menu is open"
    corners = sorted(d.geometry(w)[:2] for w in menus)
    return corners[-1] if last else corners[0]


def start(d: Desktop, cli: Cli, tmp_path: Path) -> SniApp:
    app = SniApp(d, cli.home, tmp_path / "events.jsonl", "")  # no backend named: the app chooses
    app.wait(lambda e: e["event"] == "tray_ready", timeout=20)
    assert wait_for(app.docked, timeout=10), "the icon docks in the panel"
    return app


def closes(app: App, name: str, title: str, nth: int = 1) -> None:
    """The window `name` opened (the `nth` time) by a click: it maps, then Escape closes it."""
    maps = [e for e in app.events() if e == {**e, "event": "mapped", "window": name}]
    if len(maps) < nth:
        app.wait(lambda e: e == {**e, "event": "mapped", "window": name} and e["t"] > (maps[-1]["t"] if maps else 0))
    assert wait_for(lambda: app.desktop.window(title) is not None, timeout=8), title
    win = app.desktop.window(title)
    assert win is not None, title
    app.desktop.run("xdotool", "windowfocus", "--sync", win, "key", "Escape", check=True)
    assert wait_for(lambda: app.desktop.window(title) is None, timeout=8), f"{title} closes"


def test_every_menu_item_by_click_in_xfce4_panel(sni_desktop: Desktop, cli: Cli, tmp_path: Path,
                                                 shots: Path) -> None:
    app = start(sni_desktop, cli, tmp_path)
    try:
        ready = app.wait(lambda e: e["event"] == "tray_ready")
        assert ready["backend"] == "sni"
        assert "pystray" in ready["modules"] and "gi" not in ready["modules"] and "PIL" not in ready["modules"], (
            "our own backend: pystray's API, no GTK, and the icon's pixels without Pillow")
        assert wait_for(lambda: app.icon_colours(shots, "sni-icon")["teal"] > 100, timeout=5), "the normal icon"

        corner = app.open_menu()
        app.desktop.screenshot(shots / "sni-menu.png", crop=f"420x400+{corner[0]}+0")
        app.desktop.run("xdotool", "key", "Escape", check=True)
        assert wait_for(lambda: app.desktop.popup_menus() == 0, timeout=5)

        x, y = app.icon_centre()  # a left click: the menu's default item, Check in now
        app.desktop.run("xdotool", "mousemove", str(x), str(y), "click", "1", check=True)
        closes(app, "checkin", "^Posture check-in$")

        windows = [("Check in now", "checkin", "^Posture check-in$"), ("Today's drills", "drills", "^Today's drills$"),
                   ("Strength circuit", "circuit", "^Strength circuit$"), ("Log a run", "run", "^Log a run$"),
                   ("How's my back?", "soreness", "^How's my back\\?$"), ("Settings", "settings", "settings$"),
                   ("About", "about", "^About posture-agent$")]
        for label, name, title in windows:
            app.pick(label)
            closes(app, name, title, nth=2 if name == "checkin" else 1)
        app.pick("Undo last")
        app.wait(lambda e: e["event"] == "undo" and e["ok"] is False)  # nothing made on this computer yet
        app.pick("Weekly report")
        app.wait(lambda e: e["event"] == "report_making")
        # its page is the report's own tests' (its child reads the real clock, which a faked hour moves)
        app.wait(lambda e: e["event"] in ("browser", "report_failed"), timeout=60)

        app.pick("30 minutes", ("Pause",))
        app.wait(lambda e: e == {**e, "event": "action", "name": "pause", "token": "30m"})
        assert wait_for(lambda: app.icon_colours(shots, "sni-icon-paused")["grey"] > 100, timeout=5), "the icon greys"
        assert app.icon_colours(shots, "sni-icon-paused")["teal"] == 0
        app.pick("Resume")
        app.wait(lambda e: e["event"] == "action" and e["name"] == "resume")
        assert wait_for(lambda: app.icon_colours(shots, "sni-icon-resumed")["teal"] > 100, timeout=5)
        names = [e["name"] for e in app.events() if e["event"] == "action"]
        assert names == ["checkin_now", "checkin_now", "drills", "circuit", "run", "soreness", "settings", "about",
                         "undo", "weekly_report", "pause", "resume"]
        assert rows(cli.home, "select count(*) from checkins") == [(0,)], "windows closed unanswered store nothing"

        app.pick("Quit")
        app.wait(lambda e: e["event"] == "stopped")
        assert app.proc.wait(timeout=10) == 0
        assert wait_for(lambda: not app.docked(), timeout=5), "the icon leaves the panel"
    finally:
        app.stop()


def test_a_change_while_the_menu_is_open_and_a_panel_restart(sni_desktop: Desktop, cli: Cli, tmp_path: Path,
                                                             shots: Path) -> None:
    """The agent pauses (`posture-agent pause`) while the menu is open: the open menu changes in
    place (its Pause row is now Resume, and a click there resumes). Then xfce4-panel is killed and
    started again: the item registers with the new panel, the icon is back and its menu works."""
    app = start(sni_desktop, cli, tmp_path)
    try:
        item = app.item()
        try:
            _revision, before = item.layout()
            corner = app.open_menu()
            cli.ok("pause", "30m")
            app.wait(lambda e: e["event"] == "state" and e["icon"] == "paused")
            _revision, after = item.layout()
            assert item.wait_signal("LayoutUpdated")
        finally:
            item.close()
        assert labels(after)[0].startswith("Paused until") and "Resume" in labels(after)
        time.sleep(0.5)
        assert app.desktop.popup_menus() >= 1, "the menu stayed open"
        app.desktop.screenshot(shots / "sni-menu-changed-while-open.png", crop=f"420x400+{corner[0]}+0")
        app.click("Resume", corner, labels(after))
        app.wait(lambda e: e["event"] == "action" and e["name"] == "resume")
        assert labels(before).index("Pause") == labels(after).index("Resume"), "the same row"

        app.desktop.stop_tray()
        assert wait_for(lambda: not app.desktop.name_owned("org.kde.StatusNotifierWatcher"), timeout=5)
        app.desktop.start_tray()
        assert wait_for(app.desktop.tray_ready, timeout=20), "the panel is back"
        assert wait_for(app.docked, timeout=10), "the icon is back in the restarted panel"
        assert wait_for(lambda: app.icon_colours(shots, "sni-icon-after-restart")["teal"] > 100, timeout=5)
        app.pick("Today's drills")
        closes(app, "drills", "^Today's drills$")
        app.desktop.screenshot(shots / "sni-after-restart.png", crop="400x60+0+0")
    finally:
        app.stop()
    assert app.proc.returncode == 0


def test_the_icon_docks_when_the_panel_starts_after_the_app(cli: Cli, tmp_path: Path, shots: Path) -> None:
    """At login an autostarted agent can be up before the panel: with our backend (as a default
    install without PyGObject chooses when no tray is up yet) the item registers once the panel's
    watcher appears."""
    d = Desktop(tmp_path / "late-desktop", with_tray=False, tray="xfce4-panel").start()
    app = SniApp(d, cli.home, tmp_path / "events.jsonl", "sni")
    try:
        app.wait(lambda e: e["event"] == "tray_ready", timeout=20)
        assert not d.name_owned("org.kde.StatusNotifierWatcher")
        d.start_tray()
        assert wait_for(d.tray_ready, timeout=20), "the panel is up"
        assert wait_for(app.docked, timeout=10), "the icon docks in a panel that started later"
        assert wait_for(lambda: app.icon_colours(shots, "sni-icon-late-panel")["teal"] > 100, timeout=5)
        app.pick("Today's drills")
        closes(app, "drills", "^Today's drills$")
    finally:
        app.stop()
        d.stop()


def test_an_xembed_tray_is_still_served_by_pystray(desktop: Desktop, cli: Cli, tmp_path: Path) -> None:
    """trayer only (no StatusNotifierItem host): the app chooses pystray's gtk backend by itself."""
    skip_without_pygobject()
    app = App(desktop, cli.home, tmp_path / "events.jsonl", "")
    try:
        ready: dict[str, Any] = app.wait(lambda e: e["event"] == "tray_ready", timeout=20)
        assert ready["backend"] == "gtk" and "gi" in ready["modules"]
        assert wait_for(app.docked, timeout=10), "the icon docks in trayer"
        app.menu("Today's drills")
        closes(app, "drills", "^Today's drills$")
    finally:
        app.stop()


@pytest.mark.parametrize("tray", ["xfce4-panel", "trayer"])
def test_doctor_says_which_backend_serves(tray: str, tmp_path: Path) -> None:
    d = Desktop(tmp_path / "desk", tray=tray).start()
    try:
        env = {k: v for k, v in d.env.items() if k != "PYSTRAY_BACKEND"}
        done = subprocess.run([sys.executable, "-m", "posture_agent", "--home", str(tmp_path / "home"), "--json",
                               "doctor"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
        check = next(c for c in json.loads(done.stdout)["checks"] if c["check"] == "tray")
    finally:
        d.stop()
    if tray == "xfce4-panel":
        assert check["ok"] and check["backend"] == "sni" and check["hosts"] == ["sni", "xembed"], check
        assert "StatusNotifierItem" in check["detail"]
    else:
        skip_without_pygobject()
        assert check["ok"] and check["backend"] == "gtk" and check["hosts"] == ["xembed"], check
