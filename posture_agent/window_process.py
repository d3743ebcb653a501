"""Every window in a short-lived process of its own, started by the resident agent, so that Tk is
loaded here and never in the resident process (and on macOS this process has its own main thread
for it).

    python -m posture_agent.window_process KIND --runtime DIR [--prompt ID] [--context C]
        [--seconds-left N] [--data JSON]

KIND is checkin, drills, circuit, run, soreness, settings, welcome or about. The window gets plain data on
the command line (`--data`: a small JSON object, see `build`) and hands its result to the agent over
the control socket (`answer` for a prompted check-in, `checkin`, `drill`, `circuit`, `run`,
`soreness`; settings, and the welcome's, are written to the user's config file and then `reload`
is sent; the welcome also turns autostart on or off); the agent
saves it and closes its prompt in one transaction. This process never opens the database. If the
agent says it could not be saved, the window says so and stays open with what the user entered.

On stdout it prints `mapped` once it is on screen, then one JSON line per answer the agent took
(`{"event": "drill", "name": …}`, for the resident's trace). It ends when the window closes, on
SIGTERM (the agent closed the prompt another way), and is raised on SIGUSR1 (its menu item again).
A prompted check-in's countdown runs to the agent's deadline (`--seconds-left`, by the agent's
clock); without it (Check in now, and every other window) there is no countdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tkinter
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from posture_agent.agent.control import send
from posture_agent.errors import UserError

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 20.0
"""How long the window waits for the agent's reply to an answer (the agent retries a busy database)."""
KINDS = ("checkin", "drills", "circuit", "run", "soreness", "settings", "welcome", "about")
SAVING = "saving…"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="posture_agent.window_process")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--runtime", required=True, type=Path, help="the agent's runtime folder (its control socket)")
    p.add_argument("--prompt", help="the agent's prompt id (a prompted check-in)")
    p.add_argument("--context", default="desk")
    p.add_argument("--seconds-left", type=float, help="until the agent's deadline (none: no countdown)")
    p.add_argument("--data", default="{}", help="the window's plain data, a JSON object")
    return p.parse_args(argv)


class Link:
    """The window's way to the agent: requests over the control socket, and what was taken said on stdout."""

    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Hand a request to the agent; raises UserError (shown in the window) if it was not saved."""
        return send(self.runtime, request, timeout=ANSWER_TIMEOUT_S)

    @staticmethod
    def said(event: str, **data: Any) -> None:
        sys.stdout.write(json.dumps({"event": event, **data}, default=str) + "\n")
        sys.stdout.flush()


def answer_to_agent(runtime: Path, prompt: str, posture: str, context: str) -> None:
    """A prompted check-in's answer; raises UserError (shown in the window) if it was not saved."""
    Link(runtime).ask({"cmd": "answer", "prompt": prompt, "posture": posture, "context": context})


def quit_on_sigterm(root: Any, on_raise: Callable[[], object] | None = None) -> None:
    """SIGTERM (the agent closed the prompt another way) ends the window at once; SIGUSR1 raises it.
    Tk sleeps in C between events, so the signal's wake-up byte goes to a pipe Tk watches: Tk
    wakes, and Python runs the handler (which also works before the main loop has started)."""
    signal.signal(signal.SIGTERM, lambda *_: root.after_idle(root.quit))
    if on_raise is not None and hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: root.after_idle(on_raise))
    if not hasattr(root.tk, "createfilehandler"):
        return  # not on Windows, where the agent ends the process instead
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    root.tk.createfilehandler(read_end, tkinter.READABLE, lambda *_: os.read(read_end, 512))


def _zone(name: str | None) -> tzinfo:
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def build(kind: str, root: Any, args: argparse.Namespace, data: dict[str, Any], link: Link) -> Any | None:
    """The window of `kind` on `root`, wired to the agent; None when it is not to be shown."""
    if kind == "checkin":
        from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

        prompt = args.prompt
        remaining = None if args.seconds_left is None else float(args.seconds_left)
        if prompt and (remaining is None or remaining <= 1):
            return None  # too late to ask truthfully

        def answer(posture: str, context: str) -> None:
            if prompt:
                answer_to_agent(args.runtime, prompt, posture, context)
            else:
                link.ask({"cmd": "checkin", "posture": posture, "context": context})
            link.said("checkin", posture=posture, context=context, prompt=prompt)

        def skip(context: str) -> None:
            if prompt:
                answer("skipped", context)  # an unprompted check-in closed unanswered stores nothing

        return CheckinWindow(
            root, CheckinPrompt(args.context, remaining), on_answer=answer, on_skip=skip,
            on_timeout=lambda: None,  # the agent stores `missed` at its own deadline
            where="tray" if prompt else "center",
        )
    if kind == "drills":
        from posture_agent.ui.windows.drills import DrillItem, DrillsWindow

        def tick(name: str) -> str:
            reply = link.ask({"cmd": "drill", "name": name})
            link.said("drill", name=name)
            return str(reply.get("at") or SAVING)

        items = [DrillItem(**item) for item in data.get("items", [])]
        return DrillsWindow(root, items, tick, heading=str(data.get("heading") or "Today's drills"))
    if kind == "circuit":
        from posture_agent.ui.windows.drills import CircuitWindow, DrillItem

        def done(rounds: int) -> None:
            link.ask({"cmd": "circuit", "rounds": rounds})
            link.said("circuit", rounds=rounds)

        exercises = [DrillItem(**item) for item in data.get("exercises", [])]
        return CircuitWindow(root, exercises, int(data.get("rounds", 3)), done)
    if kind == "run":
        from posture_agent.ui.windows.run import RunWindow, run_defaults

        zone = _zone(data.get("zone"))

        def save(start: datetime, duration: timedelta, km: float) -> str | None:
            reply = link.ask({"cmd": "run", "start": start.isoformat(), "duration_s": duration.total_seconds(),
                              "km": km})
            link.said("run", id=reply.get("id"), warning=reply.get("warning"))
            return None if reply.get("saving") else reply.get("warning")

        last = data.get("last")
        now = datetime.fromisoformat(data["now"]) if data.get("now") else datetime.now(zone)
        form = run_defaults(now.astimezone(zone), (float(last[0]), timedelta(seconds=float(last[1]))) if last else None)
        return RunWindow(root, form, zone, save)
    if kind == "soreness":
        from posture_agent.ui.windows.soreness import SorenessWindow

        def report(values: dict[str, int], form: frozenset[str], si_pain: bool) -> list[str]:
            reply = link.ask({"cmd": "soreness", "values": values, "form": sorted(form), "si_pain": si_pain})
            link.said("soreness", values=values)
            return [str(line) for line in reply.get("advice", [])] or ([SAVING] if reply.get("saving") else [])

        return SorenessWindow(root, report)
    if kind == "settings":
        from posture_agent.config import load_settings
        from posture_agent.ui.settings_file import save_settings
        from posture_agent.ui.windows.settings import SettingsWindow, settings_values

        config = Path(data["config"])

        def changed(changes: dict[str, Any]) -> None:
            save_settings(config, changes)  # the user's own file; validated before it is swapped in
            link.ask({"cmd": "reload"})  # at once, not at the agent's next minute
            link.said("settings", changes=changes)

        return SettingsWindow(root, settings_values(load_settings(config)), changed, str(config))
    if kind == "welcome":
        return welcome_window(root, data, link)
    from posture_agent.ui.windows.about import AboutWindow

    return AboutWindow(root, str(data.get("version", "")), str(data.get("data_folder", "")),
                       str(data.get("config_file", "")))


def welcome_window(root: Any, data: dict[str, Any], link: Link) -> Any:
    """The first start's welcome: the settings it confirms are saved as Settings saves them (the
    user's config file, then `reload`), start at login through `autostart`."""
    from posture_agent import autostart
    from posture_agent.config import load_settings
    from posture_agent.ui.settings_file import save_settings
    from posture_agent.ui.windows.settings import settings_values
    from posture_agent.ui.windows.welcome import WelcomeWindow

    config = Path(data["config"])
    mechanism = autostart.for_platform()
    try:
        enabled = mechanism.status().enabled
    except Exception:  # an unreadable entry: offered as off
        log.exception("autostart status could not be read")
        enabled = False

    def saved(changes: dict[str, Any], start_at_login: bool | None) -> None:
        if changes:
            save_settings(config, changes)  # validated before it is swapped in; raises ConfigError
        if start_at_login is True:
            mechanism.enable(autostart.launch_command(home=data.get("home")))
        elif start_at_login is False:
            mechanism.disable()
        if changes:
            link.ask({"cmd": "reload"})
        link.said("welcome", changes=changes, autostart=start_at_login)

    return WelcomeWindow(root, settings_values(load_settings(config)), enabled, saved)


def run_window(args: argparse.Namespace) -> int:
    from posture_agent.ui.style import make_root

    data = json.loads(args.data)
    root = make_root()
    shown: list[Any] = []

    def lift() -> None:
        if shown:
            shown[0].win.deiconify()
            shown[0].win.lift()

    quit_on_sigterm(root, lift)
    window = build(args.kind, root, args, data, Link(args.runtime))
    if window is None:
        return 0
    shown.append(window)
    win = window.win
    win.bind("<Destroy>", lambda e: root.quit() if str(e.widget) == str(win) else None, add="+")

    said: list[bool] = []

    def mapped() -> None:
        if not said and win.winfo_ismapped():
            said.append(True)
            sys.stdout.write("mapped\n")
            sys.stdout.flush()

    win.bind("<Map>", lambda e: mapped() if str(e.widget) == str(win) else None, add="+")
    mapped()  # the window may be on screen already (shown while it was built)
    root.mainloop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run_window(args)
    except UserError as exc:
        sys.stderr.write(f"posture-agent: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
