"""A check-in's window in its own process (`python -m posture_agent.window_process`), on Xvfb, talking
to a control socket of the test's own: it says it is mapped, hands the answer over the socket, and
when the agent says the answer was not saved it says so and stays open, the choice still there."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture_agent import WINDOW_PROCESS
from posture_agent.agent.control import ControlServer
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
        return {"ok": True}


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
