"""A prompt's window in a short-lived process of its own, started by the resident agent, so that Tk
is loaded here and never in the resident process (and on macOS this process has its own main
thread for it).

    python -m posture_agent.window_process checkin --runtime DIR --prompt ID --context desk --seconds-left N

The window gets plain data on the command line and hands its result to the agent over the control
socket (`{"cmd": "answer", …}`); the agent saves it and closes the prompt in one transaction. If the
agent says it could not be saved, the window says so and stays open with what the user chose. It
prints `mapped` on stdout once it is on screen, and ends when the window closes (or on SIGTERM, when
the agent closed the prompt another way). The countdown runs to the agent's deadline (the seconds
left, by the agent's clock).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tkinter
from pathlib import Path
from typing import Any

from posture_agent.agent.control import send
from posture_agent.errors import UserError

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 20.0
"""How long the window waits for the agent's reply to an answer (the agent retries a busy database)."""


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="posture_agent.window_process")
    p.add_argument("kind", choices=["checkin"])
    p.add_argument("--runtime", required=True, type=Path, help="the agent's runtime folder (its control socket)")
    p.add_argument("--prompt", required=True, help="the agent's prompt id")
    p.add_argument("--context", default="desk")
    p.add_argument("--seconds-left", required=True, type=float, help="until the agent's deadline for this prompt")
    return p.parse_args(argv)


def answer_to_agent(runtime: Path, prompt: str, posture: str, context: str) -> None:
    """Hand the answer to the agent; raises UserError (shown in the window) if it was not saved."""
    send(runtime, {"cmd": "answer", "prompt": prompt, "posture": posture, "context": context},
         timeout=ANSWER_TIMEOUT_S)


def quit_on_sigterm(root: Any) -> None:
    """SIGTERM (the agent closed the prompt another way) ends the window at once. Tk sleeps in C
    between events, so the signal's wake-up byte goes to a pipe Tk watches: Tk wakes, and Python
    runs the handler (which also works before the main loop has started)."""
    signal.signal(signal.SIGTERM, lambda *_: root.after_idle(root.quit))
    if not hasattr(root.tk, "createfilehandler"):
        return  # not on Windows, where the agent ends the process instead
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    root.tk.createfilehandler(read_end, tkinter.READABLE, lambda *_: os.read(read_end, 512))


def run_checkin(args: argparse.Namespace) -> int:
    from posture_agent.ui.style import make_root
    from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

    remaining = float(args.seconds_left)
    if remaining <= 1:
        return 0  # too late to ask truthfully
    root = make_root()
    quit_on_sigterm(root)
    window = CheckinWindow(
        root, CheckinPrompt(args.context, remaining),
        on_answer=lambda posture, context: answer_to_agent(args.runtime, args.prompt, posture, context),
        on_skip=lambda context: answer_to_agent(args.runtime, args.prompt, "skipped", context),
        on_timeout=lambda: None,  # the agent stores `missed` at its own deadline
    )
    window.win.bind("<Destroy>", lambda e: root.quit() if str(e.widget) == str(window.win) else None, add="+")

    said: list[bool] = []

    def mapped() -> None:
        if not said and window.win.winfo_ismapped():
            said.append(True)
            sys.stdout.write("mapped\n")
            sys.stdout.flush()

    window.win.bind("<Map>", lambda e: mapped() if str(e.widget) == str(window.win) else None, add="+")
    mapped()  # the window may be on screen already (shown while it was built)
    root.mainloop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run_checkin(args)
    except UserError as exc:
        sys.stderr.write(f"posture-agent: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
