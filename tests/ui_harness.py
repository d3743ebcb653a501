"""A small app that wires the tray and every window to a real Journal the way the agent's app does:
the tray on its own thread, Tk on the main thread behind the Dispatcher, windows that only see
callbacks. The desktop tests and benchmarks/tray_bench.py run it as a separate process:

    python -m tests.ui_harness --home DIR --events FILE [--clock ISO] [--backend gtk] [--no-tray]

Commands on stdin, one a line: `prompt CONTEXT TIMEOUT_S`, `open drills|circuit|run|soreness|
settings|about`, `quit`. Everything that happens is appended to the events file as JSON lines
({"t": unix time, "event": ...}), so a test can wait for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from posture_agent import __version__
from posture_agent.clock import Clock, FixedClock, SystemClock
from posture_agent.config import load_settings
from posture_agent.domain import advice as rules
from posture_agent.journal import Journal
from posture_agent.paths import Paths
from posture_agent.store.db import open_store
from posture_agent.ui.dispatcher import Dispatcher
from posture_agent.ui.tray import Tray, TrayActions, TrayState


class Harness:
    def __init__(self, home: Path, events: Path, clock: Clock, backend: str | None, tray: bool) -> None:
        self.paths = Paths.resolve(home)
        self.paths.make_dirs()
        self.events = events.open("a", encoding="utf-8")
        self.lock = threading.Lock()
        self.clock = clock
        settings = load_settings(self.paths.config_file)
        self.journal = Journal(open_store(self.paths.db_file, self.paths.backup_dir), settings, clock)
        self.zone = settings.zone()
        self.paused_until: datetime | None = None
        self.dispatcher = Dispatcher()
        self.tray: Tray | None = None
        if tray:
            self.tray = Tray(self.state(), self.actions(), backend=backend)

    def log(self, event: str, **data: Any) -> None:
        with self.lock:
            self.events.write(json.dumps({"t": time.time(), "event": event, **data}, default=str) + "\n")
            self.events.flush()

    # --- the tray's view of the agent ----------------------------------------------------------

    def state(self) -> TrayState:
        now = self.clock.now().astimezone(self.zone)
        advice = self.journal.advice()
        protocol = advice.si_protocol
        return TrayState(
            now=now, next_prompt="check-in", next_at=now + timedelta(minutes=45),
            paused_until=self.paused_until, rest_day=advice.rest_on(now.date()),
            protocol_day=protocol.day if protocol else None,
        )

    def refresh(self) -> None:
        state = self.state()
        if self.tray is not None:
            self.tray.update(state)
        self.log("state", icon=state.icon_state, lines=state.status_lines())

    def actions(self) -> TrayActions:
        def opener(name: str) -> Any:
            def run() -> None:
                self.log("action", name=name)
                self.open(name)

            return run

        def pause(token: str) -> None:
            self.log("action", name="pause", token=token)
            minutes = {"30m": 30, "1h": 60, "2h": 120}.get(token, 12 * 60)
            self.paused_until = self.clock.now().astimezone(self.zone) + timedelta(minutes=minutes)
            self.refresh()

        def resume() -> None:
            self.log("action", name="resume")
            self.paused_until = None
            self.refresh()

        def quit_() -> None:
            self.log("action", name="quit")
            self.dispatcher.stop()

        return TrayActions(
            checkin_now=lambda: (self.log("action", name="checkin_now"), self.prompt("desk", 120)),
            drills=opener("drills"), circuit=opener("circuit"), log_run=opener("run"),
            soreness=opener("soreness"), weekly_report=lambda: self.log("action", name="weekly_report"),
            pause=pause, resume=resume, settings=opener("settings"), about=opener("about"), quit=quit_,
        )

    # --- windows, built on the UI thread --------------------------------------------------------

    def prompt(self, context: str, timeout_s: float) -> None:
        posted = time.time()
        self.log("prompt_posted", context=context)

        def build(root: Any) -> None:
            from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

            j = self.journal

            def answer(posture: str, ctx: str) -> None:
                c = j.record_checkin(posture, ctx, source="prompt", prompted=True)
                self.log("checkin", posture=posture, context=ctx, id=c.id)

            def skip(ctx: str) -> None:
                j.record_checkin("skipped", ctx, source="prompt", prompted=True)
                self.log("checkin", posture="skipped", context=ctx)

            def timeout() -> None:
                j.record_checkin("missed", context, source="prompt", prompted=True)
                self.log("checkin", posture="missed", context=context)

            w = CheckinWindow(root, CheckinPrompt(context, timeout_s), answer, skip, timeout)
            # Tk's deiconify waits for the X server's MapNotify: the window is on screen now
            self.log("mapped", window="checkin", ismapped=w.win.winfo_ismapped(), after=time.time() - posted)

        self.dispatcher.post(build)

    def open(self, name: str) -> None:
        self.dispatcher.post(lambda root: self._build(name, root))

    def _build(self, name: str, root: Any) -> None:
        j, zone = self.journal, self.zone
        settings = j.settings
        window: Any
        if name == "drills":
            from posture_agent.ui.windows.drills import DrillItem, DrillsWindow

            items = [
                DrillItem(s.drill.name, s.drill.title, s.drill.how, s.drill.dose,
                          f"{s.done_at.astimezone(zone):%H:%M}" if s.done_at else None)
                for s in j.drills_for()
            ]

            def tick(drill: str) -> str:
                done = j.record_drills([drill], source="tray")[0]
                self.log("drill", name=drill)
                return f"{done.at.astimezone(zone):%H:%M}"

            window = DrillsWindow(root, items, tick, heading=f"Today's drills, {j.now().astimezone(zone):%a %d %b}")
        elif name == "circuit":
            from posture_agent.ui.windows.drills import CircuitWindow, DrillItem

            exercises = [
                DrillItem(n, settings.catalogue[n].title, settings.catalogue[n].how, settings.catalogue[n].dose)
                for n in settings.circuit_exercises
            ]

            def circuit_done(rounds: int) -> None:
                j.record_circuit(rounds, source="tray")
                self.log("circuit", rounds=rounds)

            window = CircuitWindow(root, exercises, settings.circuit_rounds, circuit_done)
        elif name == "run":
            from posture_agent.ui.windows.run import RunWindow, run_defaults

            runs = j.runs()
            last = (runs[-1].distance_km, runs[-1].duration) if runs else None

            def save_run(start: datetime, duration: timedelta, km: float) -> str | None:
                saved = j.add_run(start, duration, km, source="tray")
                self.log("run", id=saved.run.id, warning=saved.warning)
                return saved.warning

            window = RunWindow(root, run_defaults(j.now().astimezone(zone), last), zone, save_run)
        elif name == "soreness":
            from posture_agent.ui.windows.soreness import SorenessWindow

            def save_soreness(values: dict[str, int], form: frozenset[str], si_pain: bool) -> list[str]:
                _report, advice = j.record_soreness(dict(values), form=form, si_pain=si_pain, source="tray")
                self.log("soreness", values=values)
                self.refresh()
                return rules.messages(advice, zone)

            window = SorenessWindow(root, save_soreness)
        elif name == "settings":
            from posture_agent.ui.settings_file import save_settings
            from posture_agent.ui.windows.settings import SettingsWindow, settings_values

            def save(changes: dict[str, Any]) -> None:
                save_settings(self.paths.config_file, changes)
                self.log("settings", changes=changes)

            window = SettingsWindow(root, settings_values(settings), save, str(self.paths.config_file))
        elif name == "about":
            from posture_agent.ui.windows.about import AboutWindow

            window = AboutWindow(root, __version__, str(self.paths.data_dir), str(self.paths.config_file))
        else:
            raise ValueError(name)
        self.log("mapped", window=name, ismapped=window.win.winfo_ismapped())

    # --- running --------------------------------------------------------------------------------

    def read_commands(self) -> None:
        for line in sys.stdin:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "prompt":
                self.prompt(parts[1], float(parts[2]))
            elif parts[0] == "open":
                self.open(parts[1])
            elif parts[0] == "quit":
                break
        self.dispatcher.stop()

    def run(self) -> None:
        threading.Thread(target=self.read_commands, daemon=True).start()
        if self.tray is not None:
            tray = self.tray

            def docked() -> None:
                tray.ready.wait()
                loaded = sorted(m for m in ("tkinter", "matplotlib", "pystray", "gi", "sqlalchemy") if m in sys.modules)
                self.log("tray_ready", backend=tray.backend, modules=loaded)

            threading.Thread(target=docked, daemon=True).start()
            tray.start()
        self.log("started", modules=sorted(m for m in ("tkinter", "matplotlib", "pystray", "gi") if m in sys.modules))
        self.dispatcher.run()
        if self.tray is not None:
            self.tray.stop()
        self.log("stopped")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--events", required=True, type=Path)
    parser.add_argument("--clock", help="pin the clock to this ISO time")
    parser.add_argument("--backend")
    parser.add_argument("--no-tray", action="store_true")
    args = parser.parse_args()
    clock: Clock = FixedClock(datetime.fromisoformat(args.clock)) if args.clock else SystemClock()
    Harness(args.home, args.events, clock, args.backend, not args.no_tray).run()


if __name__ == "__main__":
    main()
