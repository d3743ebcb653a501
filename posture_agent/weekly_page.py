"""The tray's Weekly report: this week's HTML page, rendered by a child `posture-agent report`
process, so that the report's code and its charts never enter the resident process.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, tzinfo
from pathlib import Path

from posture_agent.paths import Paths

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
