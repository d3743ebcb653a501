"""The time zone as a choice from a list (Settings and the welcome): every IANA zone this computer
knows, the one in use selected. An empty `general.timezone` (the system's zone) is its own first
entry, "System (Europe/Berlin)", so leaving it alone writes nothing to the config file."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk
from zoneinfo import available_timezones

SYSTEM = "System"


def zone_names() -> list[str]:
    """The IANA zones, sorted (`zoneinfo.available_timezones`, without its internal entries)."""
    return sorted(z for z in available_timezones() if "/" in z or z in ("UTC", "GMT"))


def system_label() -> str:
    """The entry for an empty `general.timezone`, naming the system's zone when it has a name."""
    from posture_agent.clock import system_zone

    zone = system_zone()
    name = getattr(zone, "key", None) or zone.tzname(None) or ""
    return f"{SYSTEM} ({name})" if name else SYSTEM


def zone_choices(current: str, system: str) -> tuple[list[str], str]:
    """The list's entries and the one selected for the config value `current` ("" is the system's)."""
    names = zone_names()
    if current and current not in names:
        names = sorted([*names, current])  # a zone this computer's list lacks still shows as in use
    return [system, *names], current or system


class ZoneBox:
    """A read-only ttk.Combobox of the zones, the one in use selected; typing letters jumps to the
    first zone that starts with them ("eu/be" → Europe/Berlin)."""

    def __init__(self, parent: tk.Misc, current: str, width: int = 30) -> None:
        self.system = system_label()
        values, selected = zone_choices(current, self.system)
        self.values = values
        self.var = tk.StringVar(parent, value=selected)
        self.widget = ttk.Combobox(parent, textvariable=self.var, values=values, state="readonly", width=width,
                                   height=15)
        self._typed = ""
        self._typed_at = 0.0
        self.widget.bind("<KeyPress>", self._jump, add="+")

    def value(self) -> str:
        """The config value: "" for the system's zone, else the IANA name."""
        chosen = self.var.get()
        return "" if chosen == self.system else chosen

    def select(self, name: str) -> None:
        self.var.set(name or self.system)

    def _jump(self, event: tk.Event) -> str | None:
        char = event.char
        if not char or not char.isprintable() or char == " ":
            return None
        now = time.monotonic()
        self._typed = (self._typed if now - self._typed_at < 1.5 else "") + char.lower()
        self._typed_at = now
        for name in self.values:
            if _matches(name, self._typed):
                self.var.set(name)
                break
        return "break"


def _matches(name: str, typed: str) -> bool:
    """"eu/be" matches Europe/Berlin: each typed part starts the zone's part at the same place."""
    parts, wanted = name.lower().split("/"), typed.split("/")
    if len(wanted) > len(parts):
        return False
    return all(p.startswith(w) for p, w in zip(parts, wanted, strict=False))
