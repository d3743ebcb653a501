"""Windows in their own process (`python -m posture_agent.window_process KIND`), on Xvfb, talking
to a control socket of the test's own: a window says it is mapped, hands the answer over the socket,
and when the agent says the answer was not saved it says so and stays open, the choice still there."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture_agent import WINDOW_PROCESS
from posture_agent.agent.control import ControlServer
from posture_agent.config import default_text
from tests.desktop import Desktop, desktop, wait_for
from tests.test_control import runtime
from tests.test_tray_desktop import shots

__all__ = ["desktop", "runtime", "shots"]

pytestmark = pytest.mark.desktop
TITLE = "^Posture check-in$"


class Agent:
    """Answers `answer` requests: refuses the first `refusals`, then accepts."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.requests.append(request)
            if len(self.requests) <= self.refusals:
                return {"ok": False, "error": "the database is busy"}
        return {"ok": True, "at": "07:42"} if request.get("cmd") == "drill" else {"ok": True}


@contextlib.contextmanager
def window_for(d: Desktop, runtime: Path, agent: Agent) -> Iterator[subprocess.Popen[str]]:
    """The control socket served by `agent`, and a check-in window process talking to it."""
    server = ControlServer(runtime, agent)
    server.start()
    child = window_process(d, runtime)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def window_process(
    d: Desktop, runtime: Path, seconds_left: float = 120,
    program: tuple[str, ...] = (sys.executable, "-m", "posture_agent.window_process"),
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*program, "checkin", "--runtime", str(runtime),
         "--prompt", "p-1", "--context", "car", "--seconds-left", str(seconds_left)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=d.env,
    )


def test_a_refused_answer_keeps_the_window_then_it_is_saved(desktop: Desktop, runtime: Path, shots: Path) -> None:
    agent = Agent(refusals=1)
    with window_for(desktop, runtime, agent) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mapped"
        win = desktop.window(TITLE)
        assert win is not None
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "2", check=True)  # Slouched
        assert wait_for(lambda: len(agent.requests) == 1, timeout=10)
        assert agent.requests[0] == {"cmd": "answer", "prompt": "p-1", "posture": "slouched", "context": "car"}
        assert child.poll() is None and desktop.window(TITLE) is not None, "not saved: the window stays"
        x, y, w, h = desktop.geometry(win)
        desktop.screenshot(shots / "checkin-not-saved.png", crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "2", check=True)
        assert child.wait(timeout=10) == 0, child.stderr.read() if child.stderr else ""
        assert [r["posture"] for r in agent.requests] == ["slouched", "slouched"]
        assert desktop.window(TITLE) is None


def test_sigterm_closes_the_window_without_an_answer(desktop: Desktop, runtime: Path) -> None:
    agent = Agent(refusals=0)
    with window_for(desktop, runtime, agent) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        child.terminate()
        assert child.wait(timeout=5) == 0
    assert agent.requests == [], "closed by the agent: nothing answered"


def test_the_program_itself_runs_the_window_as_a_frozen_build_does(desktop: Desktop, runtime: Path) -> None:
    """A frozen build has no `python -m`: the agent starts its own executable with --window-process."""
    server = ControlServer(runtime, Agent(refusals=0))
    server.start()
    child = window_process(desktop, runtime, program=(sys.executable, "-m", "posture_agent", WINDOW_PROCESS))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        assert desktop.window(TITLE) is not None
        child.terminate()
        assert child.wait(timeout=5) == 0
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def kind_process(d: Desktop, runtime: Path, kind: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "posture_agent.window_process", kind, "--runtime", str(runtime), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=d.env,
    )


DRILLS = {"heading": "Today's drills, Wed 25 Nov", "items": [
    {"name": "wall-alignment", "title": "Wall alignment", "how": "Back to the wall.", "dose": "1 min",
     "done_at": None},
    {"name": "chin-tuck", "title": "Chin tuck", "how": "Draw the chin back.", "dose": "10x", "done_at": "07:10"},
]}


def test_a_drills_window_ticks_through_the_agent_and_keeps_a_refused_tick(
    desktop: Desktop, runtime: Path, shots: Path,
) -> None:
    """Plain data on the command line; each tick is a `drill` request; a refused one is unticked
    and says why; the agent's reply gives the time shown."""
    agent = Agent(refusals=1)
    server = ControlServer(runtime, agent)
    server.start()
    child = kind_process(desktop, runtime, "drills", "--data", json.dumps(DRILLS))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        win = desktop.window("^Today's drills$")
        assert win is not None
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "space", check=True)
        assert wait_for(lambda: len(agent.requests) == 1, timeout=10)
        assert agent.requests[0] == {"cmd": "drill", "name": "wall-alignment"}
        time.sleep(0.3)
        x, y, w, h = desktop.geometry(win)
        desktop.screenshot(shots / "drills-process-refused.png",
                           crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "space", check=True)  # again: saved
        assert json.loads(child.stdout.readline()) == {"event": "drill", "name": "wall-alignment"}
        time.sleep(0.3)
        desktop.screenshot(shots / "drills-process.png", crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        assert child.poll() is None, "the drills window stays until the user closes it"
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "Escape", check=True)
        assert child.wait(timeout=10) == 0
        assert [r["cmd"] for r in agent.requests] == ["drill", "drill"]
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def test_check_in_now_sends_an_unprompted_checkin_and_has_no_countdown(
    desktop: Desktop, runtime: Path, shots: Path,
) -> None:
    agent = Agent(refusals=0)
    server = ControlServer(runtime, agent)
    server.start()
    child = kind_process(desktop, runtime, "checkin", "--context", "sofa")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        win = desktop.window(TITLE)
        assert win is not None
        x, y, w, h = desktop.geometry(win)
        desktop.screenshot(shots / "checkin-now-process.png",
                           crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "1", check=True)  # Upright
        assert child.wait(timeout=10) == 0
        assert agent.requests == [{"cmd": "checkin", "posture": "upright", "context": "sofa"}]
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def test_check_in_now_closed_unanswered_sends_nothing(desktop: Desktop, runtime: Path) -> None:
    agent = Agent(refusals=0)
    server = ControlServer(runtime, agent)
    server.start()
    child = kind_process(desktop, runtime, "checkin")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        win = desktop.window(TITLE)
        assert win is not None
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "Escape", check=True)
        assert child.wait(timeout=10) == 0
        assert agent.requests == []
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def test_the_welcome_saves_the_zone_chosen_from_the_list_and_autostart(
    desktop: Desktop, runtime: Path, shots: Path, tmp_path: Path,
) -> None:
    """The welcome says what will happen and where the icon is; a zone typed into its list and
    start at login are saved (the config file by `save_settings`, then `reload`)."""
    config = tmp_path / "config.toml"
    config.write_text(default_text(), encoding="utf-8")
    agent = Agent(refusals=0)
    server = ControlServer(runtime, agent)
    server.start()
    data = {"config": str(config), "home": str(tmp_path)}
    child = kind_process(desktop, runtime, "welcome", "--data", json.dumps(data))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped", child.stderr
        win = desktop.window("^Welcome to posture-agent$")
        assert win is not None
        time.sleep(0.3)
        x, y, w, h = desktop.geometry(win)
        assert w <= 1366 and h <= 768, "fits a laptop screen"
        desktop.screenshot(shots / "welcome-process.png", crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        # from Save, back past "Keep the defaults" and the autostart box to the zone list
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "--delay", "60",
                    "shift+Tab", "shift+Tab", "space", "shift+Tab", check=True)
        desktop.run("xdotool", "type", "--delay", "60", "asia/tok", check=True)
        time.sleep(0.3)
        desktop.screenshot(shots / "welcome-process-zone.png",
                           crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")
        desktop.run("xdotool", "key", "Return", check=True)
        said = json.loads(child.stdout.readline())
        assert said == {"event": "welcome", "changes": {"general.timezone": "Asia/Tokyo"}, "autostart": True}
        assert child.wait(timeout=10) == 0
        assert tomllib.loads(config.read_text(encoding="utf-8"))["general"] == {"timezone": "Asia/Tokyo"}
        assert agent.requests == [{"cmd": "reload"}]
        entry = Path(desktop.env["XDG_CONFIG_HOME"]) / "autostart" / "posture-agent.desktop"
        assert entry.exists() and str(tmp_path) in entry.read_text(encoding="utf-8")
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()


def test_the_welcome_closed_keeps_the_defaults(desktop: Desktop, runtime: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(default_text(), encoding="utf-8")
    agent = Agent(refusals=0)
    server = ControlServer(runtime, agent)
    server.start()
    child = kind_process(desktop, runtime, "welcome", "--data", json.dumps({"config": str(config)}))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mapped"
        win = desktop.window("^Welcome to posture-agent$")
        assert win is not None
        desktop.run("xdotool", "windowfocus", "--sync", win, "key", "Escape", check=True)
        assert child.wait(timeout=10) == 0
        assert config.read_text(encoding="utf-8") == default_text()
        assert agent.requests == []
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()
