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


PATH_CHARS = 44
"""Characters per line of a path; a longer one wraps onto more lines, never cut off."""


def path_text(parent: tk.Misc, value: str) -> tk.Text:
    """A path shown whole, wrapped at any character, and selectable so that it can be copied (a
    read-only Text: an Entry scrolls, cutting a long path off)."""
    lines = max(1, -(-len(value) // PATH_CHARS))
    background = ttk.Style(parent).lookup("TFrame", "background") or "#dcdad5"
    text = tk.Text(parent, width=PATH_CHARS, height=lines, wrap="char", relief="flat", borderwidth=0,
                   highlightthickness=0, background=background, font="TkDefaultFont")
    text.insert("1.0", value)
    text.configure(state="disabled")  # still selectable and copyable, never editable

    def fit(_event: object) -> None:  # as many lines as the path takes in the font shown, no blank one
        shown = text.count("1.0", "end", "displaylines")
        if shown and int(text.cget("height")) != shown[0]:
            text.configure(height=shown[0])

    text.bind("<Configure>", fit)
    return text


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
            path_text(grid, value).grid(row=row, column=1, sticky="ew", pady=2)
        grid.columnconfigure(1, weight=1)
        style.wrap_label(frame, NOT_MEDICAL_ADVICE, width=440, style="Advice.TLabel").pack(anchor="w", pady=(12, 0))
        close = ttk.Button(frame, text="Close", command=win.destroy)
        close.pack(anchor="e", pady=(12, 0))
        win.bind("<Return>", lambda _e: win.destroy())
        style.show(win, "center")
        close.focus_set()
