"""The tray's Weekly report: this week's HTML page, rendered by a child `posture-agent report`
process, so that the report's code and its charts never enter the resident process; `WeeklyReport`
is the menu item's job (made off the tray's thread, said in the tray's status and notifications).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from posture_agent.browser import open_page
from posture_agent.paths import Paths

if TYPE_CHECKING:  # the agent is loaded after the icon docks (app.py)
    from posture_agent.agent.core import AgentCore

log = logging.getLogger(__name__)

REPORT_TIMEOUT_S = 120


class ReportFailed(Exception):
    """The child that renders the weekly page failed; the message is its one line for the user."""


def self_command() -> list[str]:
    """How to run this program's own command line in a child process (a frozen build is its own
    executable)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "posture_agent"]


def write_weekly_page(now: datetime, zone: tzinfo, paths: Paths) -> Path:
    """This week's report page (12 weeks of history, as `report --open` writes it), rendered by a
    child `posture-agent report`: matplotlib and numpy never enter the resident process."""
    year, week, _ = now.astimezone(zone).isocalendar()
    label = f"{year}-W{week:02d}"
    folder = paths.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"report-{label}.html"
    home = ["--home", str(paths.home)] if paths.home is not None else []
    try:
        done = subprocess.run([*self_command(), *home, "report", "--week", label, "--html", str(target), "--json"],
                              capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReportFailed(f"the report process did not finish ({type(exc).__name__}: {exc})") from exc
    if done.returncode != 0 or not target.exists():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ReportFailed(lines[-1] if lines else f"the report process ended with exit code {done.returncode}")
    return target


class WeeklyReport:
    """The menu's Weekly report. `agent()` is the running agent (its clock and zone); `refresh()`
    shows the tray's state again (its status says so while `making`); `notify(title, message)`
    tells the user; `open_url` replaces `webbrowser.open`."""

    def __init__(self, paths: Paths, agent: Callable[[], AgentCore], trace: Callable[..., None],
                 refresh: Callable[[], None], notify: Callable[[str, str], None],
                 open_url: Callable[[str], object] | None = None) -> None:
        self.paths = paths
        self.agent = agent
        self.trace = trace
        self.refresh = refresh
        self.notify = notify
        self.open_url = open_url
        self._lock = threading.Lock()
        self.making = False
        """The weekly report is being made (its child runs): said in the tray's status lines."""

    def start(self) -> None:
        """Write this week's HTML page and open it, off the tray's thread. It takes seconds: the
        tray's status says "Making the weekly report…" and a notification says so, until the page
        opens (or a notification says why it could not be made)."""
        with self._lock:
            if self.making:
                self.trace("report_busy")
                return
            self.making = True
        self.refresh()
        self.trace("report_making")
        self.notify("Making the weekly report…", "It opens in your browser in a few seconds.")
        threading.Thread(target=self._make, name="report", daemon=True).start()

    def _make(self) -> None:
        agent = self.agent()
        try:
            target = write_weekly_page(agent.clock.now(), agent.journal.zone, self.paths)
        except ReportFailed as exc:
            log.warning("the weekly report could not be written: %s", exc)
            self._done()
            self.trace("report_failed", why=str(exc))
            self.notify("The weekly report could not be made", str(exc))
            return
        except Exception as exc:
            log.exception("the weekly report could not be written")
            self._done()
            self.trace("report_failed", why=f"{type(exc).__name__}: {exc}")
            self.notify("The weekly report could not be made", f"{type(exc).__name__}: {exc} (see the log)")
            return
        self._done()
        self.trace("report", path=str(target))
        # the file is always named: a desktop's opener says yes before any browser has come up
        if open_page(target, self.open_url):
            self.notify("Weekly report written", f"Opening it in your browser. The page: {target}")
        else:
            self.notify("Weekly report written", f"No browser could be opened; the page is at {target}")

    def _done(self) -> None:
        with self._lock:
            self.making = False
        try:
            self.refresh()
        except Exception:
            log.exception("the tray's state could not be read after the report")
