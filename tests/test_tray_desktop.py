"""The tray on a real virtual desktop (Xvfb, trayer, dunst, a private session bus).

The app runs as its own process (tests/ui_harness.py: the real `posture_agent.app.App` on a real
Agent whose clock the test moves, the tray on its thread, every window a process of its own that
hands its answer to the agent over the control socket, the agent storing it into the home's SQLite
file); the test right-clicks
the docked icon, picks menu items with the keyboard through xdotool, and reads the results back
with the command line on the same home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from posture_agent.clock import FixedClock
from tests.conftest import Cli
from tests.desktop import Desktop, desktop, wait_for
from tests.processes import rows

__all__ = ["desktop"]

pytestmark = pytest.mark.desktop
ROOT = Path(__file__).resolve().parent.parent
PINNED = "2026-11-25T12:00:00+01:00"  # the `clock` fixture's time, so the CLI and the app agree
MENU = ["Check in now", "Today's drills", "Strength circuit", "Log a run", "How's my back?",
        "Weekly report", "Undo last", "Pause", "Settings", "About", "Quit"]
"""The menu's items that take the keyboard, in order (the status line is not selectable)."""


class App:
    def __init__(self, desktop: Desktop, home: Path, events: Path, backend: str, clock: str = PINNED,
                 notify: bool = False) -> None:
        self.desktop, self.events_file = desktop, events
        env = dict(desktop.env, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        env.pop("PYSTRAY_BACKEND", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.ui_harness", "--home", str(home), "--events", str(events),
             "--clock", clock, "--backend", backend, *(["--notify"] if notify else [])],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=(events.parent / "app.err").open("wb"),
            env=env, cwd=ROOT, text=True,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def events(self) -> list[dict[str, Any]]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines() if line.strip()]

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [e for e in self.events() if match(e)]
            return bool(found)

        if not wait_for(check, timeout=timeout):
            err = (self.events_file.parent / "app.err").read_text(errors="replace")[-2000:]
            raise AssertionError(f"no matching event; events: {self.events()[-5:]}; stderr: {err}")
        return found[-1]

    def docked(self) -> bool:
        panel = self.desktop.panel()
        if panel is None:
            return False
        return "posture-agent" in self.desktop.run("xwininfo", "-tree", "-id", panel).stdout

    def icon_centre(self) -> tuple[int, int]:
        panel = self.desktop.panel()
        assert panel is not None
        x, y, w, h = self.desktop.geometry(panel)
        return x + w // 2, y + h // 2

    def menu(self, item: str) -> None:
        """Right-click the icon, then walk down to `item` with the arrow keys and press Return."""
        x, y = self.icon_centre()
        self.desktop.run("xdotool", "mousemove", str(x), str(y), "click", "3", check=True)
        self.desktop.wait_for_menus(1)
        downs = ["Down"] * (MENU.index(item) + 1)
        self.desktop.run("xdotool", "key", "--delay", "40", *downs, "Return", check=True)

    def icon_colours(self, shots: Path, name: str) -> dict[str, int]:
        """Counts of teal, grey and ice-blue pixels in the docked icon (from a real screenshot)."""
        from PIL import Image

        x, y = self.icon_centre()
        path = self.desktop.screenshot(shots / f"{name}.png", crop=f"36x36+{x - 18}+{max(0, y - 18)}")
        counts = {"teal": 0, "grey": 0, "ice": 0}
        with Image.open(path) as img:
            for r, g, b in pixels(img):
                if abs(r - 22) < 25 and abs(g - 122) < 25 and abs(b - 104) < 25:
                    counts["teal"] += 1
                elif max(r, g, b) - min(r, g, b) < 25 and 90 < r < 160:
                    counts["grey"] += 1
                elif ice(r, g, b):
                    counts["ice"] += 1
        return counts

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()


def ice(r: int, g: int, b: int) -> bool:
    """The SI protocol badge's sky blue (the tile then is a deep blue, and normal is teal)."""
    return r < 80 and 130 < g < 200 and b > 200


def pixels(img: Any) -> list[tuple[int, int, int]]:
    data = img.convert("RGB").tobytes()
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def skip_without_pygobject() -> None:
    code = "import gi; gi.require_version('Gtk', '3.0')"
    if subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0:
        pytest.skip("PyGObject with GTK 3 is not installed: the tray menu needs it (scripts/bootstrap.sh installs it)")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("POSTURE_AGENT_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_app(desktop: Desktop, cli: Cli, tmp_path: Path, backend: str = "appindicator", clock: str = PINNED,
              notify: bool = False) -> App:
    skip_without_pygobject()
    app = App(desktop, cli.home, tmp_path / "events.jsonl", backend, clock, notify)
    app.wait(lambda e: e["event"] == "tray_ready", timeout=20)
    assert wait_for(app.docked, timeout=10), "the icon docks in the tray"
    # docked (in the tray's window tree) comes a moment before the icon is painted and takes clicks:
    # a right click sent in between opens no menu, so wait for the icon's own colours on screen
    assert wait_for(lambda: sum(app.icon_colours(tmp_path, "icon-start").values()) > 100, timeout=10), (
        "the docked icon is painted"
    )
    return app


@pytest.fixture
def app(desktop: Desktop, cli: Cli, tmp_path: Path) -> Iterator[App]:
    a = start_app(desktop, cli, tmp_path)
    yield a
    a.stop()


@pytest.mark.parametrize("backend", ["appindicator", "gtk"])
def test_icon_docks_menu_opens_and_drills_are_ticked(
    desktop: Desktop, cli: Cli, tmp_path: Path, shots: Path, backend: str
) -> None:
    app = start_app(desktop, cli, tmp_path, backend)
    try:
        docked = app.wait(lambda e: e["event"] == "tray_ready")
        assert "pystray" in docked["modules"], "the check looks at the running tray's modules"
        assert "tkinter" not in docked["modules"] and "matplotlib" not in docked["modules"], (
            "no window or chart yet, so neither Tk nor matplotlib is loaded"
        )
        # docked (in the tray's window tree) comes a moment before the icon is painted
        assert wait_for(lambda: app.icon_colours(shots, f"icon-{backend}")["teal"] > 100, timeout=5), (
            "the normal icon is on the panel"
        )

        x, y = app.icon_centre()
        desktop.run("xdotool", "mousemove", str(x), str(y), "click", "3", check=True)
        desktop.wait_for_menus(1)
        time.sleep(0.3)  # mapped, then painted: the screenshot below reads its pixels
        from PIL import Image

        menu_shot = desktop.screenshot(shots / f"menu-{backend}.png", crop="420x440+604+0")
        with Image.open(menu_shot) as img:
            light = sum(1 for p in pixels(img) if min(p) > 200)
        assert light > 20000, "a right click opens a menu below the icon"
        desktop.run("xdotool", "key", "--delay", "40", "Down", "Down", "Return", check=True)
        app.wait(lambda e: e == {**e, "event": "action", "name": "drills"})
        app.wait(lambda e: e == {**e, "event": "mapped", "window": "drills"})
        win = desktop.window("^Today's drills$")
        assert win is not None
        # keyboard alone: the first drill has focus, Space ticks it
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "space", check=True)
        app.wait(lambda e: e == {**e, "event": "drill", "name": "wall-alignment"})
        drills = cli.ok("drills", "--json").json()
        assert isinstance(drills, dict)
        done = {d["name"]: d["done"] for d in drills["drills"]}
        assert done == {"wall-alignment": True, "chin-tuck": False}
    finally:
        app.stop()
    assert app.proc.returncode == 0


def test_pause_and_resume_change_icon_and_menu(app: App, shots: Path) -> None:
    app.menu("Pause")  # Return on "Pause" opens its submenu; Return again picks "30 minutes"
    app.desktop.wait_for_menus(2)
    app.desktop.run("xdotool", "key", "Return", check=True)
    app.wait(lambda e: e == {**e, "event": "action", "name": "pause", "token": "30m"})
    state = app.wait(lambda e: e["event"] == "state" and e["icon"] != "normal")
    assert state["icon"] == "paused" and state["lines"] == ["Paused until 12:30"]
    assert wait_for(lambda: app.icon_colours(shots, "icon-paused")["grey"] > 100, timeout=5), "the icon greys out"
    assert app.icon_colours(shots, "icon-paused")["teal"] == 0
    app.menu("Pause")  # the same place now says "Resume"
    app.wait(lambda e: e["event"] == "action" and e["name"] == "resume")
    assert wait_for(lambda: app.icon_colours(shots, "icon-resumed")["teal"] > 100, timeout=5)


def test_sore_si_joint_starts_protocol_and_icon_turns_ice_blue(app: App, cli: Cli, shots: Path) -> None:
    assert app.icon_colours(shots, "icon-before")["ice"] == 0
    app.menu("How's my back?")
    app.wait(lambda e: e == {**e, "event": "mapped", "window": "soreness"})
    win = app.desktop.window("^How's my back\\?$")
    assert win is not None
    app.desktop.run("xdotool", "windowfocus", "--sync", win, "key", "--delay", "40",
                    "Tab", "Tab", "Tab", "7", "Return", check=True)
    app.wait(lambda e: e["event"] == "soreness" and e["values"]["si_joint"] == 7)
    x, y, w, h = app.desktop.geometry(win)
    app.desktop.screenshot(shots / "soreness-advice-app.png", crop=f"{w + 20}x{h + 20}+{x - 10}+{y - 10}")
    state = app.wait(lambda e: e["event"] == "state" and e["icon"] != "normal")
    assert state["icon"] == "protocol"
    assert state["lines"][0] == "SI protocol day 1 of 15: no running (running again Thu 10 Dec)"
    assert wait_for(lambda: app.icon_colours(shots, "icon-protocol")["ice"] > 15, timeout=5), "snowflake badge"
    x, y = app.icon_centre()
    app.desktop.run("xdotool", "mousemove", str(x), str(y), "click", "3", check=True)
    app.desktop.wait_for_menus(1)
    time.sleep(0.3)
    app.desktop.screenshot(shots / "menu-protocol.png")
    app.desktop.run("xdotool", "key", "Escape", check=True)
    advice = cli.ok("advice", "--json").json()
    assert isinstance(advice, dict) and advice["si_protocol"] is not None


def test_prompt_window_click_and_timeout(app: App, cli: Cli, shots: Path) -> None:
    app.send("due")  # 12:45, the next desk check-in
    shown = app.wait(lambda e: e == {**e, "event": "mapped", "window": "checkin"})
    assert shown["ismapped"] == 1
    win = app.desktop.window("^Posture check-in$")
    assert win is not None
    x, y, w, h = app.desktop.geometry(win)
    app.desktop.screenshot(shots / "checkin-app.png", crop=f"{w + 20}x{h + 20}+{x - 10}+{y - 10}")
    app.desktop.run("xdotool", "mousemove", str(x + w // 2), str(y + 85), "click", "1", check=True)  # Slouched
    assert wait_for(lambda: app.desktop.window("^Posture check-in$") is None, timeout=8)
    assert wait_for(lambda: rows(cli.home, "select posture, context, prompted from checkins")
                    == [("slouched", "desk", 1)], timeout=5), "saved on the agent's answers thread"
    assert rows(cli.home, "select outcome from prompts") == [("answered",)]

    app.send("due")  # 13:30
    app.wait(lambda e: e["event"] == "mapped" and e["window"] == "checkin" and e["t"] > shown["t"])
    app.send("advance 121")  # past the 2-minute timeout: the agent closes the prompt as missed
    app.wait(lambda e: e == {**e, "event": "closed", "window": "checkin", "why": "prompt closed"}, timeout=8)
    assert wait_for(lambda: app.desktop.window("^Posture check-in$") is None, timeout=8), "the prompt closed"
    stored = rows(cli.home, "select posture, context from checkins order by at")
    assert stored == [("slouched", "desk"), ("missed", "desk")], "missed is stored once, by the agent"
    assert sorted(rows(cli.home, "select outcome from prompts")) == [("answered",), ("missed",)]
    maps = Path(f"/proc/{app.proc.pid}/maps").read_text()
    assert "libtk" not in maps and "_tkinter" not in maps, "each check-in window ran in a process of its own"


def test_prompts_due_together_come_one_window_at_a_time(desktop: Desktop, cli: Cli, tmp_path: Path,
                                                        shots: Path) -> None:
    """At 09:46 the morning drills (07:30, within their grace) and the 09:45 check-in are both due:
    the drills' window first, the check-in's only when it is closed; never both on screen."""
    app = start_app(desktop, cli, tmp_path, clock="2026-11-25T09:46:00+01:00")
    try:
        app.send("advance 0")
        app.wait(lambda e: e == {**e, "event": "mapped", "window": "drills"})
        app.wait(lambda e: e == {**e, "event": "waiting", "kind": "checkin"})
        drills = app.desktop.window("^Today's drills$")
        assert drills is not None
        time.sleep(0.5)
        assert app.desktop.window("^Posture check-in$") is None, "the check-in waits its turn"
        app.desktop.screenshot(shots / "one-window-at-a-time.png")
        # both drills ticked: the second tick is stored with the prompt's closing, in one transaction
        app.desktop.run("xdotool", "windowfocus", "--sync", drills, "key", "--delay", "60",
                        "space", "Tab", "space", check=True)
        app.wait(lambda e: e == {**e, "event": "drill", "name": "chin-tuck"})
        assert wait_for(lambda: ("drills", "answered") in rows(cli.home, "select kind, outcome from prompts"),
                        timeout=5)
        assert app.desktop.window("^Today's drills$") is not None, "answered: the user closes it"
        app.desktop.run("xdotool", "windowfocus", "--sync", drills, "key", "Escape", check=True)
        app.wait(lambda e: e == {**e, "event": "mapped", "window": "checkin"})
        assert wait_for(lambda: app.desktop.window("^Posture check-in$") is not None, timeout=5)
        assert app.desktop.window("^Today's drills$") is None
        app.desktop.screenshot(shots / "one-window-at-a-time-next.png")
        order = [e["window"] for e in app.events() if e["event"] == "mapped"]
        assert order == ["drills", "checkin"]
    finally:
        app.stop()


def test_the_soreness_question_is_one_notification_whose_body_opens_the_window(
        desktop: Desktop, cli: Cli, clock: FixedClock, tmp_path: Path, shots: Path) -> None:
    """Notification first, like a check-in: no window beside it; ten minutes on it is still open
    (never `missed` minutes in); a click on its body opens How's my back? and answers nothing."""
    clock.at = datetime(2026, 11, 25, 18, 52, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    cli.ok("run", "add", "--distance-km", "8", "--duration", "45m", "--at", "2026-11-25T16:10")  # asked at 18:55
    app = start_app(desktop, cli, tmp_path, clock="2026-11-25T18:56:00+01:00", notify=True)
    try:
        app.send("advance 0")
        assert wait_for(lambda: desktop.displayed() == 1, timeout=8), "one notification"
        time.sleep(1.0)
        assert desktop.window("^How's my back\\?$") is None, "no window beside the notification"
        assert not [e for e in app.events() if e["event"] == "mapped"]
        desktop.screenshot(shots / "soreness-notification-app.png")
        app.send("advance 600")
        time.sleep(0.5)
        assert rows(cli.home, "select kind, outcome from prompts") == [("soreness", None)], "still open"
        desktop.click_notification()
        app.wait(lambda e: e == {**e, "event": "mapped", "window": "soreness"})
        win = desktop.window("^How's my back\\?$")
        assert win is not None
        assert wait_for(lambda: desktop.displayed() == 0, timeout=5), "the notification made way for the window"
        desktop.screenshot(shots / "soreness-window-app.png")
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "--delay", "40", "3", "Return", check=True)
        app.wait(lambda e: e["event"] == "soreness" and e["values"]["upper_back"] == 3)
        assert wait_for(lambda: rows(cli.home, "select kind, outcome from prompts") == [("soreness", "answered")],
                        timeout=5)
    finally:
        app.stop()


def test_every_window_is_a_process_of_its_own_and_its_answer_a_row(app: App, cli: Cli, shots: Path) -> None:
    """Drills, circuit, How's my back?, Log a run, Settings and About opened from the tray and
    answered: each answer is a row in the SQLite file (or the user's config file), stored by the
    agent; Tk and matplotlib never entered the resident process."""
    desktop = app.desktop

    def opened(name: str, title: str) -> str:
        app.send(f"open {name}")
        app.wait(lambda e: e == {**e, "event": "mapped", "window": name})
        win = desktop.window(title)
        assert win is not None, title
        return win

    def keys(win: str, *names: str) -> None:
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "--delay", "60", *names, check=True)

    def closes(title: str) -> None:
        assert wait_for(lambda: desktop.window(title) is None, timeout=8), f"{title} closes"

    def shot(name: str, win: str) -> None:
        x, y, w, h = desktop.geometry(win)
        desktop.screenshot(shots / f"{name}.png", crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")

    win = opened("drills", "^Today's drills$")
    keys(win, "space")
    app.wait(lambda e: e == {**e, "event": "drill", "name": "wall-alignment"})
    time.sleep(0.3)
    shot("process-drills", win)
    keys(win, "Escape")
    closes("^Today's drills$")

    win = opened("circuit", "^Strength circuit$")
    keys(win, "shift+Tab", "shift+Tab", "space")  # from Save, past Cancel, to the last round
    time.sleep(0.3)
    shot("process-circuit", win)
    keys(win, "Return")
    app.wait(lambda e: e == {**e, "event": "circuit", "rounds": 1})
    closes("^Strength circuit$")

    win = opened("soreness", "^How's my back\\?$")
    keys(win, "4", "Return")
    app.wait(lambda e: e["event"] == "soreness" and e["values"]["upper_back"] == 4)
    time.sleep(0.3)
    shot("process-soreness", win)
    keys(win, "Escape")
    closes("^How's my back\\?$")

    win = opened("run", "^Log a run$")
    keys(win, "Return")  # the defaults: 10 km in an hour, ending now
    app.wait(lambda e: e["event"] == "run" and e["id"] is not None)
    closes("^Log a run$")

    win = opened("settings", "settings$")
    keys(win, "Tab", "5", "Return")  # Sore from: 5
    app.wait(lambda e: e["event"] == "settings" and e["changes"] == {"general.soreness_threshold": 5})
    closes("settings$")

    win = opened("about", "^About posture-agent$")
    shot("process-about", win)
    keys(win, "Escape")
    closes("^About posture-agent$")

    assert rows(cli.home, "select drill, source from drill_completions") == [("wall-alignment", "tray")]
    assert rows(cli.home, "select rounds from circuits") == [(1,)]
    assert rows(cli.home, "select upper_back, si_joint from soreness_reports") == [(4, 0)]
    assert rows(cli.home, "select distance_km, duration_s from runs") == [(10.0, 3600.0)]
    assert "soreness_threshold = 5" in (cli.home / "config.toml").read_text(encoding="utf-8")
    maps = Path(f"/proc/{app.proc.pid}/maps").read_text()
    for part in ("libtk", "_tkinter", "matplotlib"):
        assert part not in maps, f"{part} is mapped in the resident process"
    stopped = app.events()
    assert all(e["window"] in {"drills", "circuit", "soreness", "run", "settings", "about"}
               for e in stopped if e["event"] == "gone"), "every window went with its process"


def test_quit_from_the_menu_ends_the_process(app: App) -> None:
    app.menu("Quit")
    app.wait(lambda e: e["event"] == "stopped")
    assert app.proc.wait(timeout=10) == 0
    assert wait_for(lambda: not app.docked(), timeout=5), "the icon leaves the tray"


@pytest.mark.parametrize("backend", ["appindicator", "gtk"])
def test_icon_docks_when_the_tray_starts_after_the_app(cli: Cli, tmp_path: Path, backend: str) -> None:
    """At login an autostarted agent can be up before the panel: the icon must dock once it appears
    (pystray's xorg backend would not; appindicator/gtk follow the tray manager)."""
    skip_without_pygobject()
    root = tmp_path / "late-desktop"
    d = Desktop(root, with_tray=False).start()
    trayer = None
    app = App(d, cli.home, tmp_path / "events.jsonl", backend)
    try:
        app.wait(lambda e: e["event"] == "tray_ready", timeout=20)
        time.sleep(1.0)
        assert d.panel() is None
        if shutil.which("trayer") is None:
            pytest.skip("trayer is not installed (scripts/test.sh installs it as root)")
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
             "--SetDockType", "true", "--transparent", "false", "--tint", "0x888888"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=d.env,
        )
        assert wait_for(app.docked, timeout=10), "the icon docks in a tray that started later"
    finally:
        app.stop()
        if trayer is not None:
            trayer.terminate()
            trayer.wait(timeout=5)
        d.stop()
