"""Today's drills as a checklist (each tick saved at once), and the strength circuit."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk

from posture_agent.errors import UserError
from posture_agent.ui import style

log = logging.getLogger(__name__)

DRILLS_TITLE = "Today's drills"
CIRCUIT_TITLE = "Strength circuit"


@dataclass(frozen=True)
class DrillItem:
    name: str
    title: str
    how: str
    dose: str
    done_at: str | None = None
    """Local time it was ticked ("07:42"), None while still to do."""


class DrillsWindow:
    """Ticking a drill calls `on_tick(name)` at once (it may return the local time it was saved,
    "07:42", to show); a `UserError` unticks it and its message is shown."""

    def __init__(
        self, root: tk.Misc, items: Sequence[DrillItem], on_tick: Callable[[str], object],
        heading: str = DRILLS_TITLE, note: str = "",
    ) -> None:
        self.on_tick = on_tick
        self.items = list(items)
        self.win = win = style.new_window(root, DRILLS_TITLE)
        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=heading, style="Title.TLabel").pack(anchor="w")
        if note:
            style.wrap_label(frame, note, style="Muted.TLabel").pack(anchor="w", pady=(2, 0))
        self.vars: dict[str, tk.BooleanVar] = {}
        self.checks: dict[str, ttk.Checkbutton] = {}
        self.stamps: dict[str, ttk.Label] = {}
        first: ttk.Checkbutton | None = None
        for item in self.items:
            box = ttk.Frame(frame)
            box.pack(fill="x", pady=(10, 0))
            var = tk.BooleanVar(win, value=item.done_at is not None)
            check = ttk.Checkbutton(
                box, text=f"{item.title}  ·  {item.dose}", variable=var, style="Drill.TCheckbutton",
                command=lambda n=item.name: self.toggled(n),  # type: ignore[misc]
            )
            check.grid(row=0, column=0, sticky="w")
            stamp = ttk.Label(box, style="Muted.TLabel")
            stamp.grid(row=0, column=1, sticky="e", padx=(12, 0))
            box.columnconfigure(1, weight=1)
            style.wrap_label(box, item.how, width=480, style="Muted.TLabel").grid(
                row=1, column=0, columnspan=2, sticky="w", padx=(26, 0)
            )
            self.vars[item.name], self.checks[item.name], self.stamps[item.name] = var, check, stamp
            if item.done_at:
                self._mark_done(item.name, item.done_at)
            elif first is None:
                first = check
        self.error = ttk.Label(frame, style="Error.TLabel", wraplength=480)
        self.error.pack(anchor="w", pady=(8, 0))
        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", pady=(4, 0))
        self.summary = ttk.Label(bottom)
        self.summary.pack(side="left")
        ttk.Button(bottom, text="Close", command=win.destroy).pack(side="right")
        if not self.items:
            ttk.Label(frame, text="No drills are planned today.").pack(anchor="w")
        self._summarise()
        style.show(win, "center")
        if first is not None:
            first.focus_set()

    def toggled(self, name: str) -> None:
        var = self.vars[name]
        if not var.get():  # a tick once saved stays: the record exists
            var.set(True)
            return
        try:
            stamp = self.on_tick(name)
        except UserError as exc:
            var.set(False)
            self.error.configure(text=str(exc))
            return
        except Exception as exc:
            log.exception("saving drill %s failed", name)
            var.set(False)
            self.error.configure(text=f"Could not save: {exc}")
            return
        self.error.configure(text="")
        self._mark_done(name, stamp if isinstance(stamp, str) else "just now")
        self._summarise()

    def _mark_done(self, name: str, at: str) -> None:
        self.stamps[name].configure(text=f"done {at}")
        self.checks[name].configure(style="Done.Drill.TCheckbutton")

    def _summarise(self) -> None:
        done = sum(v.get() for v in self.vars.values())
        total = len(self.vars)
        text = f"All {total} done - well done!" if total and done == total else f"{done} of {total} done"
        self.summary.configure(text=text)


class CircuitWindow:
    """The circuit's exercises, a tick per round, and Save (calls `on_done(rounds)`)."""

    def __init__(
        self, root: tk.Misc, exercises: Sequence[DrillItem], rounds: int, on_done: Callable[[int], object],
    ) -> None:
        self.on_done = on_done
        self.win = win = style.new_window(root, CIRCUIT_TITLE)
        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=CIRCUIT_TITLE, style="Title.TLabel").pack(anchor="w")
        style.wrap_label(
            frame, f"Do each exercise in order, then go round again: {rounds} rounds in all.",
            style="Muted.TLabel",
        ).pack(anchor="w", pady=(2, 4))
        for number, item in enumerate(exercises, start=1):
            box = ttk.Frame(frame)
            box.pack(fill="x", pady=(6, 0))
            ttk.Label(box, text=f"{number}. {item.title}", style="Heading.TLabel").grid(row=0, column=0, sticky="w")
            ttk.Label(box, text=item.dose).grid(row=0, column=1, sticky="e", padx=(12, 0))
            box.columnconfigure(1, weight=1)
            style.wrap_label(box, item.how, width=480, style="Muted.TLabel").grid(
                row=1, column=0, columnspan=2, sticky="w", padx=(18, 0)
            )
        rounds_row = ttk.Frame(frame)
        rounds_row.pack(fill="x", pady=(12, 0))
        ttk.Label(rounds_row, text="Rounds done:").pack(side="left", padx=(0, 8))
        self.round_vars: list[tk.BooleanVar] = []
        self.round_checks: list[ttk.Checkbutton] = []
        for r in range(1, rounds + 1):
            var = tk.BooleanVar(win, value=False)
            check = ttk.Checkbutton(rounds_row, text=f"Round {r}", variable=var, command=self._refresh)
            check.pack(side="left", padx=(0, 10))
            self.round_vars.append(var)
            self.round_checks.append(check)
        self.error = ttk.Label(frame, style="Error.TLabel", wraplength=480)
        self.error.pack(anchor="w", pady=(6, 0))
        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", pady=(4, 0))
        ttk.Button(bottom, text="Cancel", command=win.destroy).pack(side="right")
        self.save = ttk.Button(bottom, style="Accent.TButton", command=self.submit)
        self.save.pack(side="right", padx=(0, 8))
        win.bind("<Return>", lambda _e: self.submit())
        self._refresh()
        style.show(win, "center")
        self.save.focus_set()

    def rounds_done(self) -> int:
        return sum(v.get() for v in self.round_vars)

    def _refresh(self) -> None:
        n = self.rounds_done()
        if n:
            self.error.configure(text="")
        self.save.configure(text=f"Save circuit ({n} round{'s' if n != 1 else ''})" if n else "Save circuit")

    def submit(self) -> None:
        n = self.rounds_done()
        if not n:
            self.error.configure(text="Tick the rounds you have done first.")
            return
        try:
            self.on_done(n)
        except UserError as exc:
            self.error.configure(text=str(exc))
            return
        except Exception as exc:
            log.exception("saving the circuit failed")
            self.error.configure(text=f"Could not save: {exc}")
            return
        self.win.destroy()
