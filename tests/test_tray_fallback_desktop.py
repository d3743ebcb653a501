"""The tray that cannot fail silently, the weekly report's feedback and the tray's Undo, on the real
`posture-agent start` (Xvfb, trayer, dunst, a private session bus; the clock pinned as in
tests/test_app_desktop.py).

- A tray thread killed by a real D-Bus error (tests/tray_breaker.py) ends in the documented
  fallback: one line on stderr naming the cause, one notification saying how to quit, the traceback
  in the log, and the agent going on headless: a prompt due afterwards is still notified, and
  `posture-agent stop` ends it with exit 0.
- Weekly report from the tray: "Making the weekly report…" (notification and status line) before
  the page is handed to the browser.
- Undo last from the tray: a check-in made on the command line is taken back (a tombstone: gone
  from `report --json`), and a notification names it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.desktop import Desktop, desktop, wait_for
from tests.processes import PinnedClock, run_cli
from tests.test_app_desktop import Agent, cli_json, clock, home, next_minutes, stand_in_browser, write_config
from tests.test_tray_desktop import shots, skip_without_pygobject

__all__ = ["clock", "desktop", "home", "shots"]

pytestmark = pytest.mark.desktop
BREAKER = Path(__file__).with_name("tray_breaker.py")


class BrokenTrayAgent(Agent):
    """The real `start`, its tray's loop ended by a D-Bus error `after_s` seconds in."""

    def _launch(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(BREAKER), "--home", str(self.home), "start"],
            stdout=subprocess.DEVNULL, stderr=self.err.open("ab"), env=self.env,
        )


def gone_bus(d: Desktop) -> str:
    """The address of a session bus that was started and has gone."""
    bus = d.run("dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1",
                check=True)
    address, pid = bus.stdout.split("\n")[:2]
    subprocess.run(["kill", pid.strip()], check=True)
    assert wait_for(lambda: subprocess.run(["kill", "-0", pid.strip()], capture_output=True).returncode != 0)
    return address.strip()


def test_a_tray_killed_by_a_dbus_error_falls_back_headless(desktop: Desktop, home: Path, clock: PinnedClock) -> None:
    skip_without_pygobject()
    car = next_minutes(clock, lead=20)
    write_config(home, clock, car=car)
    agent = BrokenTrayAgent(desktop, home, clock, {"TRAY_BREAK_AFTER_S": "4", "TRAY_BREAK_BUS": gone_bus(desktop)})
    try:
        agent.wait_started()  # the icon docks, then its loop dies
        assert wait_for(lambda: "the tray stopped" in agent.stderr(), timeout=20), agent.stderr()[-1500:]
        said = [line for line in agent.stderr().splitlines() if "tray" in line]
        assert len(said) == 1, said
        assert "Could not connect" in said[0] and "posture-agent stop" in said[0], said
        assert "Traceback" not in agent.stderr()
        assert wait_for(lambda: "The posture-agent tray stopped" in desktop.notifications(), timeout=10), \
            desktop.notifications()[-800:]
        assert "posture-agent stop" in desktop.notifications()
        assert wait_for(lambda: not agent.docked(), timeout=10), "no dead icon is left in the tray"
        log = (home / "logs" / "posture-agent.log").read_text()
        assert "the tray stopped" in log and "Traceback" in log and "Could not connect" in log

        # headless: the check-in due after the failure is still notified
        assert wait_for(lambda: "How was your posture on the drive?" in desktop.notifications(),
                        timeout=(car - clock.now()).total_seconds() + 20), desktop.notifications()[-800:]
        assert agent.proc.poll() is None, "the agent goes on headless"

        done = run_cli(home, "stop", env=clock.env(desktop.env, TZ="UTC"), timeout=30)
        assert done.returncode == 0, done.stderr
        assert "stopped" in done.stdout
        assert agent.proc.wait(timeout=15) == 0, agent.stderr()[-1500:]
    finally:
        agent.stop()
    assert "the tray stopped" in agent.stderr()


def test_a_tray_that_dies_at_once_falls_back_and_sigterm_ends_it(
    desktop: Desktop, home: Path, clock: PinnedClock
) -> None:
    """The loop dies before the icon is shown: the same fallback, and SIGTERM still gives exit 0."""
    skip_without_pygobject()
    write_config(home, clock)
    agent = BrokenTrayAgent(desktop, home, clock, {"TRAY_BREAK_AFTER_S": "0"})
    try:
        assert wait_for(lambda: "the tray stopped" in agent.stderr(), timeout=30), agent.stderr()[-1500:]
        agent.wait_agent()
        assert wait_for(lambda: "The posture-agent tray stopped" in desktop.notifications(), timeout=15), \
            desktop.notifications()[-800:]
        assert agent.proc.poll() is None
        status = run_cli(home, "resume", "--json", env=clock.env(), timeout=30)
        assert status.returncode == 0, status.stderr
    finally:
        agent.stop()
    assert agent.proc.returncode == 0, agent.stderr()[-1500:]


def test_weekly_report_from_the_tray_says_it_is_being_made(
    desktop: Desktop, home: Path, shots: Path, tmp_path: Path, clock: PinnedClock
) -> None:
    skip_without_pygobject()
    write_config(home, clock)
    opened, browser_env = stand_in_browser(tmp_path)
    agent = Agent(desktop, home, clock, browser_env)
    try:
        agent.wait_started()
        agent.menu("Weekly report")
        assert wait_for(lambda: "Making the weekly report" in desktop.notifications(), timeout=10), \
            desktop.notifications()[-800:]
        assert not opened.exists(), "the feedback comes before the page"
        agent.right_click()  # the status line says so too, while the child renders the page
        desktop.screenshot(shots / "real-menu-report-making.png", crop="440x480+584+0")
        desktop.run("xdotool", "key", "Escape", check=True)
        assert wait_for(opened.exists, timeout=60), agent.stderr()[-1500:]
        page = Path(opened.read_text().strip().removeprefix("file://"))
        assert page.exists() and page.suffix == ".html"
        log = (home / "logs" / "posture-agent.log").read_text()
        assert "could not be written" not in log
    finally:
        agent.stop()
    assert agent.proc.returncode == 0


def test_undo_last_from_the_tray(desktop: Desktop, home: Path, shots: Path, clock: PinnedClock) -> None:
    skip_without_pygobject()
    write_config(home, clock)
    agent = Agent(desktop, home, clock)
    try:
        agent.wait_started()
        at = (clock.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
        made = run_cli(home, "checkin", "slouched", "--context", "desk", "--at", at,
                       env=clock.env(TZ="UTC"))
        assert made.returncode == 0, made.stderr
        assert cli_json(home, clock, "report")["checkins"]["slouched"] == 1

        agent.right_click()
        desktop.screenshot(shots / "real-menu-undo.png", crop="440x480+584+0")
        desktop.run("xdotool", "key", "Escape", check=True)
        agent.menu("Undo last")
        assert wait_for(lambda: "Undone" in desktop.notifications(), timeout=15), desktop.notifications()[-800:]
        text = desktop.notifications()
        assert "Removed check-in: slouched at the desk" in text, text[-800:]
        assert cli_json(home, clock, "report")["checkins"]["slouched"] == 0, "taken back (a tombstone)"

        agent.menu("Undo last")  # nothing left made on this computer
        assert wait_for(lambda: "Nothing was undone" in desktop.notifications(), timeout=15)
        assert "Nothing to undo" in desktop.notifications()
    finally:
        agent.stop()
    assert agent.proc.returncode == 0
