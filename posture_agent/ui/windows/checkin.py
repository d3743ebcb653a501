"""The check-in prompt: one click or one key (1/2/3) answers it and it is gone.

It appears near the tray, stays on top, does not take the keyboard from what the user is typing,
and closes itself at the timeout (the caller records that as `missed`).
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from posture_agent.errors import UserError
from posture_agent.ui import style

log = logging.getLogger(__name__)

ANSWERS = (("upright", "Upright"), ("slouched", "Slouched"), ("standing", "Standing"))
CONTEXTS = (("desk", "Desk", "d"), ("car", "Car", "c"), ("sofa", "Sofa", "s"))
QUESTIONS = {
    "desk": "How are you sitting right now?",
    "sofa": "How are you sitting right now?",
    "car": "How was your posture on the drive?",
}
TITLE = "Posture check-in"


@dataclass(frozen=True)
class CheckinPrompt:
    context: str = "desk"
    """The context the schedule expects; the user can change it before answering."""
    timeout_s: float | None = 120.0
    """Seconds until the prompt's deadline; None: no countdown (a check-in the user opened)."""
    question: str = ""


class CheckinWindow:
    def __init__(
        self,
        root: tk.Misc,
        prompt: CheckinPrompt,
        on_answer: Callable[[str, str], object],
        on_skip: Callable[[str], object],
        on_timeout: Callable[[], object],
        where: str = "tray",
    ) -> None:
        self.on_answer, self.on_skip, self.on_timeout = on_answer, on_skip, on_timeout
        self.done = False
        self.remaining: int | None = None if prompt.timeout_s is None else max(1, round(prompt.timeout_s))
        self.win = win = style.new_window(root, TITLE)
        win.attributes("-topmost", True)
        win.resizable(False, False)
        win.protocol("WM_DELETE_WINDOW", self.skip)
        win.bind("<Escape>", lambda _e: self.skip())

        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        question = prompt.question or QUESTIONS.get(prompt.context, QUESTIONS["desk"])
        ttk.Label(frame, text=question, style="Title.TLabel").pack(anchor="w")

        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(10, 8))
        self.buttons: dict[str, ttk.Button] = {}
        for index, (value, label) in enumerate(ANSWERS, start=1):
            b = ttk.Button(
                buttons, text=f"{label}\n{index}", style="Big.TButton", width=9,
                command=lambda v=value: self.answer(v),  # type: ignore[misc]
            )
            b.grid(row=0, column=index - 1, padx=(0 if index == 1 else 8, 0), sticky="nsew")
            self.buttons[value] = b
            buttons.columnconfigure(index - 1, weight=1, uniform="answers")
            for key in (str(index), f"<KP_{index}>"):
                win.bind(key, lambda _e, v=value: self.answer(v))  # type: ignore[misc]

        where_row = ttk.Frame(frame)
        where_row.pack(fill="x", pady=(2, 6))
        ttk.Label(where_row, text="Where:").pack(side="left", padx=(0, 6))
        self.context = tk.StringVar(win, value=prompt.context if prompt.context in QUESTIONS else "desk")
        for value, label, key in CONTEXTS:
            ttk.Radiobutton(
                where_row, text=label, value=value, variable=self.context, underline=0,
            ).pack(side="left", padx=(0, 10))
            win.bind(key, lambda _e, v=value: self.context.set(v))  # type: ignore[misc]

        bottom = ttk.Frame(frame)
        bottom.pack(fill="x")
        self.problem = ttk.Label(frame, style="Error.TLabel", wraplength=420)
        """Shown above the countdown when an answer could not be saved."""
        self._bottom = bottom
        self.countdown = ttk.Label(bottom, style="Muted.TLabel")
        self.countdown.pack(side="left")
        ttk.Button(bottom, text="Skip (Esc)", command=self.skip).pack(side="right")
        self._tick()
        style.show(win, where, focus=False)

    # --- outcomes: each happens at most once ------------------------------------------------------

    def answer(self, posture: str) -> None:
        self._finish(lambda: self.on_answer(posture, self.context.get()))

    def skip(self) -> None:
        self._finish(lambda: self.on_skip(self.context.get()))

    def timeout(self) -> None:
        if self.done:
            return
        self.done = True
        self.win.destroy()
        try:
            self.on_timeout()
        except Exception:
            log.exception("check-in timeout callback failed")

    def _finish(self, callback: Callable[[], object]) -> None:
        """The answer is handed on first; the window goes only when that worked. If it was not saved
        (`UserError`, or anything else) the window says so and stays, with the user's choice kept."""
        if self.done:
            return
        self.done = True
        try:
            callback()
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.exception("check-in callback failed")
            self.done = False
            self.problem.configure(text=f"Not saved: {exc}. Your answer is still selectable: try again.")
            self.problem.pack(fill="x", pady=(0, 6), before=self._bottom)
            return
        self.win.destroy()

    def _tick(self) -> None:
        if self.done or self.remaining is None:
            return
        if self.remaining <= 0:
            self.timeout()
            return
        # Whole minutes, redrawn once a minute: a second-by-second countdown would wake the window's
        # process (and Tcl's notifier thread) about ten times a second all the while it is open.
        minutes = -(-self.remaining // 60)
        text = f"Closes in {minutes} min if unanswered" if minutes > 1 else "Closes within a minute if unanswered"
        self.countdown.configure(text=text)
        step = self.remaining - (minutes - 1) * 60 if minutes > 1 else self.remaining
        self.remaining -= step
        self.win.after(step * 1000, self._tick)
