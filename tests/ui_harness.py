"""The real tray app (`posture_agent.app.App` on a real `Agent` and SQLite file) with the agent's
clock in the test's hands: the scheduler is not started, time moves only when told, and each move
runs one agent pass (`agent.tick()`), as the scheduler would at that moment. The desktop tests and
benchmarks/tray_bench.py run it as a separate process:

    python -m tests.ui_harness --home DIR --events FILE [--clock ISO] [--backend gtk] [--idle-seconds S] [--notify]

Commands on stdin, one a line: `due` (move the clock to the next prompt's time and tick),
`advance SECONDS` (move the clock and tick), `open checkin|drills|circuit|run|soreness|settings|
about`, `quit`. What the app does (`App.trace`) is appended to the events file as JSON lines
({"t": unix time, "event": ...}), so a test can wait for it. `posture-agent start` is the same App
with the system clock and the scheduler. `--idle-seconds` puts the presence check's idle limit below
the config's whole minutes (the desktop's real signals, read as `start` reads them). `--notify` opens
the agent's notifier as `start` does (check-ins with action buttons on the session bus's server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from posture_agent.agent.runtime import Agent
from posture_agent.app import App
from posture_agent.clock import FixedClock, SystemClock
from posture_agent.config import ensure_config, load_settings
from posture_agent.paths import Paths
from posture_agent.presence.desktop import calendar_signal, presence_check
from posture_agent.store.db import open_store


class Harness:
    def __init__(
        self, home: Path, events: Path, clock: FixedClock, backend: str | None, idle_seconds: float | None = None,
        notify: bool = False,
    ) -> None:
        self.paths = Paths.resolve(home)
        self.paths.make_dirs()
        self.events = events.open("a", encoding="utf-8")
        self.lock = threading.Lock()
        self.clock = clock
        ensure_config(self.paths.config_file)
        settings = load_settings(self.paths.config_file)
        store = open_store(self.paths.db_file, self.paths.backup_dir)
        presence = None
        if idle_seconds is not None:
            calendar = calendar_signal(settings, self.paths.data_dir)
            presence = presence_check(idle_seconds, calendar, os.environ)
        self.agent = Agent(self.paths, settings, store, clock, presence)
        self.app = App(self.paths, backend=backend, trace=self.log,
                       open_url=lambda url: self.log("browser", url=url) or True)
        self.app.attach(self.agent)
        self.agent.start_control()  # check-in windows (their own processes) answer through it
        if notify:
            self.agent.open_notifier()

    def log(self, event: str, **data: Any) -> None:
        with self.lock:
            self.events.write(json.dumps({"t": time.time(), "event": event, **data}, default=str) + "\n")
            self.events.flush()

    def due(self) -> None:
        nxt = self.agent.status().next_prompt
        if nxt is None:
            self.log("nothing_due")
            return
        self.clock.at = nxt.due
        self.log("due", kind=nxt.kind, context=nxt.context, at=nxt.due.isoformat())
        self.agent.tick()

    def read_commands(self) -> None:
        actions = self.app.tray.actions
        openers = {"checkin": actions.checkin_now, "drills": actions.drills, "circuit": actions.circuit,
                   "run": actions.log_run, "soreness": actions.soreness, "settings": actions.settings,
                   "about": actions.about, "report": actions.weekly_report}
        for line in sys.stdin:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "due":
                self.due()
            elif parts[0] == "advance":
                self.clock.advance(seconds=float(parts[1]))
                self.agent.tick()
            elif parts[0] == "open":
                openers[parts[1]]()
            elif parts[0] == "quit":
                break
        self.app.quit()

    def run(self) -> int:
        threading.Thread(target=self.read_commands, daemon=True).start()
        return self.app.run(self.agent, start_agent=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--events", required=True, type=Path)
    parser.add_argument("--clock", help="start the clock at this ISO time (default: now)")
    parser.add_argument("--backend")
    parser.add_argument("--idle-seconds", type=float)
    parser.add_argument("--notify", action="store_true")
    args = parser.parse_args()
    start = datetime.fromisoformat(args.clock) if args.clock else SystemClock().now()
    sys.exit(Harness(args.home, args.events, FixedClock(start), args.backend, args.idle_seconds,
                     args.notify).run())


if __name__ == "__main__":
    main()
