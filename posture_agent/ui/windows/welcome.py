"""The welcome, on a user's first start: what the agent will do and when, the few settings to
confirm (work hours, the drive's times, the time zone, start at login), and where its icon is.

`on_save(changes, autostart)` gets only the changed config keys (as Settings passes them to
`ui.settings_file.save_settings`) and the new autostart choice (None: unchanged); it may raise
`UserError`/`ConfigError`, shown in the window, which stays open. Closing the window without
saving keeps the defaults.
"""

from __future__ import annotations

import logging
import sys
import tkinter as tk
from collections.abc import Callable, Mapping
from tkinter import ttk

from posture_agent.errors import UserError
from posture_agent.ui import style
from posture_agent.ui.windows.settings import FIELDS, Value
from posture_agent.ui.zones import ZoneBox

log = logging.getLogger(__name__)

TITLE = "Welcome to posture-agent"


def _days(days: object) -> str:
    names = [str(d).capitalize() for d in days] if isinstance(days, list) else []
    week = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    if names == week:
        return "Mon–Fri"
    if names == [*week, "Sat", "Sun"]:
        return "every day"
    if not names:
        return "no day"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def plan_lines(values: Mapping[str, Value]) -> list[str]:
    """What the agent will do, in the user's words, from the settings' values."""
    times = values.get("car.times")
    car = [str(t) for t in times] if isinstance(times, list) else []
    lines = [
        f"A posture check-in at your desk every {values.get('desk.every_minutes')} minutes, "
        f"{_days(values.get('desk.days'))} {values.get('desk.start')}–{values.get('desk.end')}: "
        "answer Upright, Slouched or Standing in the notification (or its window).",
        f"On the sofa in the evening, every {values.get('sofa.every_minutes')} minutes, "
        f"{values.get('sofa.start')}–{values.get('sofa.end')}.",
    ]
    if car:
        lines.append(f"After the commute, at {', '.join(car)}: how you sat in the car.")
    lines.append(f"The daily drills at {values.get('drills.time')}: a checklist of short exercises.")
    lines.append(f"The strength circuit on {_days(values.get('circuit.days'))} at {values.get('circuit.time')}.")
    lines.append("After each run you log: how your back feels, that evening and the next morning.")
    return lines


def icon_hint() -> str:
    where = {
        "win32": "in the notification area at the bottom right (behind the ^ arrow if it is hidden)",
        "darwin": "in the menu bar at the top right",
    }.get(sys.platform, "in the system tray, on your desktop's panel (top right on most desktops)")
    return (f"Its icon, a white running figure on a teal square, is {where}. Right-click it for the menu: "
            "Check in now, Today's drills, Log a run, How's my back?, Pause, Settings and Quit.")


class WelcomeWindow:
    def __init__(self, root: tk.Misc, values: Mapping[str, Value], autostart: bool,
                 on_save: Callable[[dict[str, Value], bool | None], object]) -> None:
        self.initial = dict(values)
        self.autostart_was = autostart
        self.on_save = on_save
        self.win = win = style.new_window(root, TITLE)
        win.resizable(False, False)
        frame = ttk.Frame(win, padding=style.PAD + 4)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=TITLE, style="Title.TLabel").pack(anchor="w")
        style.wrap_label(frame, "It runs quietly in the background. This is what it will do:", width=560).pack(
            anchor="w", pady=(6, 4))
        plan = ttk.Frame(frame)
        plan.pack(anchor="w", padx=(8, 0))
        for row, line in enumerate(plan_lines(values)):
            ttk.Label(plan, text="•").grid(row=row, column=0, sticky="nw", padx=(0, 8), pady=1)
            style.wrap_label(plan, line, width=540).grid(row=row, column=1, sticky="w", pady=1)

        ttk.Label(frame, text="Check these", style="Heading.TLabel").pack(anchor="w", pady=(12, 4))
        form = ttk.Frame(frame)
        form.pack(anchor="w", fill="x")
        self.text: dict[str, tk.StringVar] = {}
        self.labels: dict[str, ttk.Label] = {}
        self.entries: dict[str, ttk.Entry] = {}

        def entry(row: int, key: str, label: str, width: int, hint: str, column: int = 1) -> None:
            value = values.get(key)
            shown = ", ".join(value) if isinstance(value, list) else str(value or "")
            self.text[key] = var = tk.StringVar(form, value=shown)
            self.entries[key] = box = ttk.Entry(form, textvariable=var, width=width)
            box.grid(row=row, column=column, sticky="w", pady=4)
            if label:
                self.labels[key] = widget = ttk.Label(form, text=label)
                widget.grid(row=row, column=column - 1, sticky="w", padx=(0, 10))
            if hint:
                ttk.Label(form, text=hint, style="Muted.TLabel").grid(row=row, column=column + 1, sticky="w",
                                                                      padx=(10, 0))

        hours = ttk.Frame(form)
        self.labels["desk.start"] = ttk.Label(form, text="Work hours")
        self.labels["desk.start"].grid(row=0, column=0, sticky="w", padx=(0, 10))
        self.labels["desk.end"] = self.labels["desk.start"]
        hours.grid(row=0, column=1, columnspan=2, sticky="w", pady=4)
        for key in ("desk.start", "desk.end"):
            value = str(values.get(key) or "")
            self.text[key] = var = tk.StringVar(hours, value=value)
            self.entries[key] = box = ttk.Entry(hours, textvariable=var, width=7)
            if key == "desk.end":
                ttk.Label(hours, text="until").pack(side="left", padx=6)
            box.pack(side="left")
        ttk.Label(hours, text="HH:MM", style="Muted.TLabel").pack(side="left", padx=(10, 0))
        entry(1, "car.times", "Commute (after the drive)", 22, "e.g. 09:00, 17:45")
        self.labels["general.timezone"] = ttk.Label(form, text="Time zone")
        self.labels["general.timezone"].grid(row=2, column=0, sticky="w", padx=(0, 10))
        self.zone = ZoneBox(form, str(values.get("general.timezone") or ""))
        self.zone.widget.grid(row=2, column=1, columnspan=2, sticky="w", pady=4)
        self.autostart = tk.BooleanVar(form, value=autostart)
        ttk.Checkbutton(form, text="Start posture-agent when I log in", variable=self.autostart).grid(
            row=3, column=0, columnspan=3, sticky="w", pady=(6, 0))
        style.wrap_label(frame, "Everything else is in Settings, from the icon's menu.", width=560,
                         style="Muted.TLabel").pack(anchor="w", pady=(4, 0))

        ttk.Label(frame, text="Where it is", style="Heading.TLabel").pack(anchor="w", pady=(12, 4))
        style.wrap_label(frame, icon_hint(), width=560).pack(anchor="w")

        self.message = ttk.Label(frame, style="Error.TLabel", wraplength=560, justify="left")
        self.message.pack(anchor="w", pady=(8, 0))
        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", pady=(4, 0))
        ttk.Button(bottom, text="Keep the defaults", command=win.destroy).pack(side="right")
        self.save = ttk.Button(bottom, text="Save", style="Accent.TButton", command=self.submit)
        self.save.pack(side="right", padx=(0, 8))
        win.bind("<Return>", lambda _e: self.submit())
        style.show(win, "center")
        self.save.focus_set()

    def read(self) -> dict[str, Value]:
        out: dict[str, Value] = {
            "desk.start": self.text["desk.start"].get().strip(),
            "desk.end": self.text["desk.end"].get().strip(),
            "car.times": [p.strip() for p in self.text["car.times"].get().replace(";", ",").split(",") if p.strip()],
            "general.timezone": self.zone.value(),
        }
        return out

    def changes(self) -> dict[str, Value]:
        return {k: v for k, v in self.read().items() if v != self.initial.get(k)}

    def submit(self) -> None:
        for label in self.labels.values():
            label.configure(style="TLabel")
        changes = self.changes()
        start_at_login = self.autostart.get()
        autostart = None if start_at_login == self.autostart_was else start_at_login
        try:
            self.on_save(changes, autostart)
        except UserError as exc:
            key = getattr(exc, "key", "")
            problem = getattr(exc, "problem", None)
            if key in FIELDS and problem:  # a ConfigError: name the field, not the file
                self.message.configure(text=f"{FIELDS[key].label}: {problem}")
            else:
                self.message.configure(text=str(exc))
            if key in self.labels:
                self.labels[key].configure(style="Error.TLabel")
            return
        except Exception as exc:
            log.exception("saving the welcome's settings failed")
            self.message.configure(text=f"Could not save: {exc}")
            return
        self.win.destroy()
