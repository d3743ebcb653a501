"""Settings: the config's main fields on four tabs, checked as typed and validated on save.

The window only turns what was typed into values; `on_save(changes)` writes them (see
`ui.settings_file.save_settings`) and may raise `UserError`/`ConfigError`, whose message is shown
next to the form, with the field it names highlighted. Only changed fields are passed on, so the
user's file does not fill up with defaults.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from tkinter import ttk
from typing import Any

from posture_agent.config import DAYS, Settings
from posture_agent.errors import UserError
from posture_agent.ui import style
from posture_agent.ui.zones import ZoneBox

log = logging.getLogger(__name__)

TITLE = "posture-agent settings"
Value = str | int | float | bool | list[str]


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: str  # text, int, time, times, days, bool, ranges, zone
    hint: str = ""


TABS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("General", (
        Field("general.timezone", "Time zone", "zone", "type to jump: eu/be for Europe/Berlin"),
        Field("general.soreness_threshold", "Sore from", "int", "of 0–10: a region rated this or more is sore"),
        Field("general.prompt_timeout_minutes", "Prompt timeout", "int", "minutes (1-60), then missed"),
    )),
    ("Check-ins", (
        Field("desk.days", "Desk days", "days"),
        Field("desk.start", "Desk from", "time", "HH:MM"),
        Field("desk.end", "Desk until", "time", "HH:MM"),
        Field("desk.every_minutes", "Desk every", "int", "minutes (5-480)"),
        Field("sofa.start", "Evening from", "time", "HH:MM"),
        Field("sofa.end", "Evening until", "time", "HH:MM"),
        Field("sofa.every_minutes", "Evening every", "int", "minutes (5-480)"),
        Field("car.times", "After the drive", "times", "e.g. 09:00, 17:45"),
        Field("camera.enabled", "Camera check-ins", "bool", "at the desk; see: posture-agent camera enable"),
    )),
    ("Drills", (
        Field("drills.time", "Daily drills at", "time", "HH:MM"),
        Field("circuit.days", "Circuit days", "days"),
        Field("circuit.time", "Circuit at", "time", "HH:MM"),
        Field("circuit.rounds", "Circuit rounds", "int", "1-10"),
    )),
    ("Quiet", (
        Field("quiet.hours", "Quiet hours", "ranges", "e.g. 12:00-13:00, 22:30-23:59"),
        Field("quiet.weekends_off", "Weekends off", "bool", "no prompts on Saturday and Sunday"),
    )),
)
FIELDS = {f.key: f for _, fields in TABS for f in fields}


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def settings_values(s: Settings) -> dict[str, Value]:
    """The fields' current values, in the form the config file takes them."""

    def days(ds: frozenset[int]) -> list[str]:
        return [DAYS[d] for d in sorted(ds)]

    return {
        "general.timezone": s.timezone,
        "general.soreness_threshold": s.soreness_threshold,
        "general.prompt_timeout_minutes": s.prompt_timeout_minutes,
        "desk.days": days(s.desk.days),
        "desk.start": _hm(s.desk.start),
        "desk.end": _hm(s.desk.end),
        "desk.every_minutes": s.desk.every_minutes,
        "sofa.start": _hm(s.sofa.start),
        "sofa.end": _hm(s.sofa.end),
        "sofa.every_minutes": s.sofa.every_minutes,
        "car.times": [_hm(t) for t in s.car_times],
        "camera.enabled": s.camera_enabled,
        "drills.time": _hm(s.drill_time),
        "circuit.days": days(s.circuit_days),
        "circuit.time": _hm(s.circuit_time),
        "circuit.rounds": s.circuit_rounds,
        "quiet.hours": [f"{_hm(a)}-{_hm(b)}" for a, b in s.quiet_hours],
        "quiet.weekends_off": s.weekends_off,
    }


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class SettingsWindow:
    def __init__(
        self, root: tk.Misc, values: Mapping[str, Value], on_save: Callable[[dict[str, Value]], object],
        config_path: str = "",
    ) -> None:
        self.initial = dict(values)
        self.on_save = on_save
        self.win = win = style.new_window(root, TITLE)
        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="Settings", style="Title.TLabel").pack(anchor="w")
        if config_path:
            style.wrap_label(frame, f"Saved to {config_path}", width=700, style="Muted.TLabel").pack(anchor="w")
        self.notebook = notebook = ttk.Notebook(frame)
        notebook.pack(fill="both", expand=True, pady=(8, 0))
        notebook.enable_traversal()
        self.text: dict[str, tk.StringVar] = {}
        self.flags: dict[str, tk.BooleanVar] = {}
        self.day_vars: dict[str, list[tk.BooleanVar]] = {}
        self.zones: dict[str, ZoneBox] = {}
        self.labels: dict[str, ttk.Label] = {}
        self.first: dict[str, tk.Widget] = {}
        self.tab_of: dict[str, int] = {}
        for index, (name, fields) in enumerate(TABS):
            page = ttk.Frame(notebook, padding=10)
            notebook.add(page, text=name, underline=0)
            for row, f in enumerate(fields):
                self.tab_of[f.key] = index
                label = ttk.Label(page, text=f.label)
                label.grid(row=row, column=0, sticky="w", pady=5, padx=(0, 10))
                self.labels[f.key] = label
                widget = self._widget(page, f, values.get(f.key))
                widget.grid(row=row, column=1, columnspan=2 if f.kind == "days" else 1, sticky="w", pady=5)
                if f.hint:
                    ttk.Label(page, text=f.hint, style="Muted.TLabel").grid(row=row, column=2, sticky="w", padx=(10, 0))
        self.message = ttk.Label(frame, style="Error.TLabel", wraplength=560, justify="left")
        self.message.pack(anchor="w", pady=(8, 0))
        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", pady=(6, 0))
        ttk.Button(bottom, text="Cancel", command=win.destroy).pack(side="right")
        self.save = ttk.Button(bottom, text="Save", style="Accent.TButton", command=self.submit)
        self.save.pack(side="right", padx=(0, 8))
        win.bind("<Return>", lambda _e: self.submit())
        style.show(win, "center")
        self.first[TABS[0][1][0].key].focus_set()

    def _widget(self, page: ttk.Frame, f: Field, value: Value | None) -> tk.Widget:
        if f.kind == "days":
            box = ttk.Frame(page)
            chosen = set(value) if isinstance(value, list) else set()
            self.day_vars[f.key] = []
            for i, day in enumerate(DAYS):
                day_var = tk.BooleanVar(page, value=day in chosen)
                day_cb = ttk.Checkbutton(box, text=day.capitalize(), variable=day_var)
                day_cb.pack(side="left", padx=(0, 4))
                if i == 0:
                    self.first[f.key] = day_cb
                self.day_vars[f.key].append(day_var)
            return box
        if f.kind == "zone":
            zones = ZoneBox(page, str(value or ""))
            self.zones[f.key] = zones
            self.first[f.key] = zones.widget
            return zones.widget
        if f.kind == "bool":
            var_b = tk.BooleanVar(page, value=bool(value))
            cb = ttk.Checkbutton(page, variable=var_b)
            self.flags[f.key] = var_b
            self.first[f.key] = cb
            return cb
        shown = ", ".join(value) if isinstance(value, list) else "" if value is None else str(value)
        var = tk.StringVar(page, value=shown)
        width = {"int": 6, "time": 8}.get(f.kind, 26)
        entry = ttk.Entry(page, textvariable=var, width=width)
        self.text[f.key] = var
        self.first[f.key] = entry
        return entry

    def read(self) -> dict[str, Value]:
        """Every field as a config value; raises UserError naming the first field that is not."""
        out: dict[str, Value] = {}
        for key, f in FIELDS.items():
            if f.kind == "days":
                out[key] = [d for d, var in zip(DAYS, self.day_vars[key], strict=True) if var.get()]
            elif f.kind == "bool":
                out[key] = self.flags[key].get()
            elif f.kind == "zone":
                out[key] = self.zones[key].value()
            elif f.kind == "int":
                raw = self.text[key].get().strip()
                try:
                    out[key] = int(raw)
                except ValueError:
                    raise self._problem(key, f"{f.label}: {raw!r} is not a whole number") from None
            elif f.kind in ("times", "ranges"):
                out[key] = _split(self.text[key].get())
            else:
                out[key] = self.text[key].get().strip()
        return out

    def _problem(self, key: str, text: str) -> UserError:
        error = UserError(text)
        error.key = key  # type: ignore[attr-defined]
        return error

    def changes(self) -> dict[str, Value]:
        return {k: v for k, v in self.read().items() if v != self.initial.get(k)}

    def submit(self) -> None:
        for label in self.labels.values():
            label.configure(style="TLabel")
        try:
            changes = self.changes()
            if changes:
                self.on_save(changes)
        except UserError as exc:
            key = getattr(exc, "key", "")
            problem = getattr(exc, "problem", None)
            if key in FIELDS and problem:  # a ConfigError: name the field, not the file
                self.message.configure(text=f"{FIELDS[key].label} ({key}): {problem}")
            else:
                self.message.configure(text=str(exc))
            if key in self.labels:
                self.labels[key].configure(style="Error.TLabel")
                notebook: Any = self.notebook  # typeshed leaves Notebook.select untyped
                notebook.select(self.tab_of[key])
                self.first[key].focus_set()
            return
        except Exception as exc:
            log.exception("saving settings failed")
            self.message.configure(text=f"Could not save: {exc}")
            return
        self.win.destroy()
