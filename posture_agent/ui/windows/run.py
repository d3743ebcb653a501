"""Log a run: start date and time, distance and duration, prefilled with sensible values.

Mistakes are shown in the window, next to the form (the save callback may raise `UserError`, and
its message is shown as it is); nothing is saved until every field makes sense.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from tkinter import ttk

from posture_agent.errors import UserError
from posture_agent.timeparse import format_duration, parse_at, parse_duration
from posture_agent.ui import style

log = logging.getLogger(__name__)

TITLE = "Log a run"


@dataclass(frozen=True)
class RunForm:
    """The text the fields start with."""

    date: str
    time: str
    distance_km: str
    duration: str


def run_defaults(now_local: datetime, last: tuple[float, timedelta] | None = None) -> RunForm:
    """Prefill from the last run's distance and duration (else 10 km in an hour), ending about now."""
    distance, duration = last if last else (10.0, timedelta(hours=1))
    start = start_for(now_local, duration)
    return RunForm(start.strftime("%Y-%m-%d"), start.strftime("%H:%M"), f"{distance:g}", format_duration(duration))


def start_for(end_local: datetime, duration: timedelta) -> datetime:
    """The start of a run of `duration` ending about `end_local`, on a 5-minute mark."""
    start = end_local - duration
    return start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)


def parse_distance(text: str) -> float:
    try:
        value = float(text.strip().replace(",", ".").removesuffix("km").strip())
    except ValueError:
        raise UserError(f"Distance {text!r} is not a number of kilometres (e.g. 10.5)") from None
    return value


class RunWindow:
    """`on_save(start, duration, distance_km)` stores the run and may return a warning to show."""

    def __init__(
        self, root: tk.Misc, form: RunForm, zone: tzinfo,
        on_save: Callable[[datetime, timedelta, float], str | None],
    ) -> None:
        self.zone, self.on_save = zone, on_save
        self.ends: datetime | None = None
        """When the prefilled run ends (about now): a changed duration moves the start to keep it,
        until the user types a start of their own."""
        self.win = win = style.new_window(root, TITLE)
        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=TITLE, style="Title.TLabel").grid(row=0, column=0, columnspan=3, sticky="w", pady=(0, 6))
        self.vars: dict[str, tk.StringVar] = {}
        self.entries: dict[str, ttk.Entry] = {}
        fields = (
            ("date", "Date", form.date, "YYYY-MM-DD"),
            ("time", "Start time", form.time, "HH:MM, local"),
            ("distance_km", "Distance (km)", form.distance_km, "e.g. 10.5"),
            ("duration", "Duration", form.duration, "h:mm:ss, mm:ss or 50m"),
        )
        for row, (key, label, value, hint) in enumerate(fields, start=1):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=4, padx=(0, 10))
            var = tk.StringVar(win, value=value)
            entry = ttk.Entry(frame, textvariable=var, width=14)
            entry.grid(row=row, column=1, sticky="w", pady=4)
            ttk.Label(frame, text=hint, style="Muted.TLabel").grid(row=row, column=2, sticky="w", padx=(10, 0))
            self.vars[key], self.entries[key] = var, entry
        try:
            self.ends = parse_at(f"{form.date}T{form.time}", zone) + parse_duration(form.duration)
        except UserError:
            self.ends = None
        self._moving = False
        self.vars["duration"].trace_add("write", lambda *_: self._follow_duration())
        for key in ("date", "time"):
            self.vars[key].trace_add("write", lambda *_: self._own_start())
        self.message = ttk.Label(frame, style="Error.TLabel", wraplength=440, justify="left")
        self.message.grid(row=6, column=0, columnspan=3, sticky="w", pady=(8, 0))
        bottom = ttk.Frame(frame)
        bottom.grid(row=7, column=0, columnspan=3, sticky="ew", pady=(8, 0))
        self.cancel = ttk.Button(bottom, text="Cancel", command=win.destroy)
        self.cancel.pack(side="right")
        self.save = ttk.Button(bottom, text="Save run", style="Accent.TButton", command=self.submit)
        self.save.pack(side="right", padx=(0, 8))
        win.bind("<Return>", lambda _e: self.submit())
        self.saved = False
        style.show(win, "center")
        self.entries["distance_km"].focus_set()
        self.entries["distance_km"].select_range(0, "end")

    def _own_start(self) -> None:
        if not self._moving:
            self.ends = None  # the user typed a start: it stays as typed

    def _follow_duration(self) -> None:
        """The start follows a changed duration, so the run still ends when it did (about now)."""
        if self.ends is None:
            return
        try:
            duration = parse_duration(self.vars["duration"].get(), option="Duration")
        except UserError:
            return  # half typed: the start moves once the duration reads
        start = start_for(self.ends.astimezone(self.zone), duration)
        self._moving = True
        try:
            self.vars["date"].set(start.strftime("%Y-%m-%d"))
            self.vars["time"].set(start.strftime("%H:%M"))
        finally:
            self._moving = False

    def submit(self) -> None:
        if self.saved:
            self.win.destroy()
            return
        v = {k: var.get() for k, var in self.vars.items()}
        try:
            start = parse_at(f"{v['date'].strip()}T{v['time'].strip()}", self.zone, option="Date and time")
            duration = parse_duration(v["duration"], option="Duration")
            distance = parse_distance(v["distance_km"])
            warning = self.on_save(start, duration, distance)
        except UserError as exc:
            self.message.configure(text=str(exc), style="Error.TLabel")
            return
        except Exception as exc:
            log.exception("saving the run failed")
            self.message.configure(text=f"Could not save: {exc}", style="Error.TLabel")
            return
        if warning:
            self.saved = True
            self.message.configure(text=warning, style="Advice.TLabel")
            self.save.configure(text="Close")
            self.cancel.pack_forget()
            return
        self.win.destroy()
