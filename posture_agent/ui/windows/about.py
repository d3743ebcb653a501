"""About: the version, where the data lives, and that this is not medical advice."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from posture_agent.domain.advice import NOT_MEDICAL_ADVICE
from posture_agent.ui import style

TITLE = "About posture-agent"
BLURB = (
    "Posture nudges, daily drills, a back-strength circuit and recovery rules for runners who sit "
    "all day. Everything stays on this computer: no account, no network."
)


class AboutWindow:
    def __init__(self, root: tk.Misc, version: str, data_folder: str, config_file: str = "") -> None:
        self.win = win = style.new_window(root, TITLE)
        win.resizable(False, False)
        frame = ttk.Frame(win, padding=style.PAD + 4)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=f"posture-agent {version}", style="Title.TLabel").pack(anchor="w")
        style.wrap_label(frame, BLURB, width=440).pack(anchor="w", pady=(6, 10))
        grid = ttk.Frame(frame)
        grid.pack(fill="x")
        rows = [("Data folder", data_folder)] + ([("Config file", config_file)] if config_file else [])
        for row, (label, value) in enumerate(rows):
            ttk.Label(grid, text=label, style="Heading.TLabel").grid(row=row, column=0, sticky="nw", padx=(0, 10))
            # selectable, so the path can be copied
            entry = ttk.Entry(grid, width=44)
            entry.insert(0, value)
            entry.state(["readonly"])
            entry.grid(row=row, column=1, sticky="ew", pady=2)
        grid.columnconfigure(1, weight=1)
        style.wrap_label(frame, NOT_MEDICAL_ADVICE, width=440, style="Advice.TLabel").pack(anchor="w", pady=(12, 0))
        close = ttk.Button(frame, text="Close", command=win.destroy)
        close.pack(anchor="e", pady=(12, 0))
        win.bind("<Return>", lambda _e: win.destroy())
        style.show(win, "center")
        close.focus_set()
