"""How's my back?: four 0-10 sliders and the running-form self-check; after saving, the advice
that follows from the report is shown at once in the same window."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from posture_agent.errors import UserError
from posture_agent.ui import style

log = logging.getLogger(__name__)

TITLE = "How's my back?"
REGIONS = (
    ("upper_back", "Upper back"),
    ("mid_back", "Middle back"),
    ("lower_back", "Lower back"),
    ("si_joint", "SI joint (base of the spine)"),
)
SHORT = {"upper_back": "upper back", "mid_back": "middle back", "lower_back": "lower back", "si_joint": "SI joint"}
FORM = (
    ("arms_high", "Arms held too high or too tight"),
    ("shoulders_tense", "Shoulders rose and tensed as I tired"),
    ("swing_too_big", "Arm swing too big"),
    ("swing_too_small", "Arm swing too small"),
    ("arms_crossing", "Arms crossed in front of the body"),
)

SaveSoreness = Callable[[dict[str, int], frozenset[str], bool], Sequence[str]]
"""(values by region, form flags, SI pain said) -> the advice lines to show."""


class SorenessWindow:
    def __init__(self, root: tk.Misc, on_save: SaveSoreness, about: str = "") -> None:
        self.on_save = on_save
        self.win = win = style.new_window(root, TITLE)
        frame = ttk.Frame(win, padding=style.PAD)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=TITLE, style="Title.TLabel").pack(anchor="w")
        self.intro = style.wrap_label(
            frame, about or "0 = no pain, 10 = the worst you can imagine. Tab to a slider, then use the "
            "arrow keys or type a digit.",
            style="Muted.TLabel",
        )
        self.intro.pack(anchor="w", pady=(2, 6))
        self.body = body = ttk.Frame(frame)
        body.pack(fill="x")
        form = ttk.Frame(body)
        form.pack(fill="x")
        self.values: dict[str, tk.IntVar] = {}
        self.scales: dict[str, ttk.Scale] = {}
        for row, (key, label) in enumerate(REGIONS):
            var = tk.IntVar(win, value=0)
            name = ttk.Label(form, text=label)
            name.grid(row=row, column=0, sticky="w", pady=5, padx=(0, 10))
            scale = ttk.Scale(form, from_=0, to=10, length=240, orient="horizontal")
            scale.grid(row=row, column=1, sticky="ew", pady=5)
            shown = ttk.Label(form, textvariable=var, width=3, anchor="e", style="Heading.TLabel")
            shown.grid(row=row, column=2, sticky="e", padx=(8, 0))
            scale.configure(command=lambda value, v=var, s=scale: self._snap(s, v, value))  # type: ignore[misc]
            for keys, step in ((("<Left>", "<Down>"), -1), (("<Right>", "<Up>"), 1)):
                for k in keys:
                    scale.bind(k, lambda _e, v=var, s=scale, d=step: self._step(s, v, d))  # type: ignore[misc]
            # ttk's clam scale shows no focus ring: light up the region's name instead
            scale.bind("<FocusIn>", lambda _e, n=name: n.configure(style="Focus.TLabel"))  # type: ignore[misc]
            scale.bind("<FocusOut>", lambda _e, n=name: n.configure(style="TLabel"))  # type: ignore[misc]
            for digit in range(10):
                scale.bind(str(digit), lambda _e, v=var, s=scale, d=digit: self._set(s, v, d))  # type: ignore[misc]
            self.values[key], self.scales[key] = var, scale
        form.columnconfigure(1, weight=1)
        # room for the names in bold (the focused one), so the sliders do not jump sideways
        import tkinter.font as tkfont

        bold = tkfont.Font(win, font=ttk.Style(win).lookup("Focus.TLabel", "font"))
        form.columnconfigure(0, minsize=max(bold.measure(label) for _, label in REGIONS) + 12)

        self.si_pain = tk.BooleanVar(win, value=False)
        ttk.Checkbutton(body, text="I have SI-joint pain", variable=self.si_pain).pack(anchor="w", pady=(6, 0))
        ttk.Label(body, text="On the run, did you notice…", style="Heading.TLabel").pack(anchor="w", pady=(10, 2))
        self.form: dict[str, tk.BooleanVar] = {}
        for key, label in FORM:
            var_b = tk.BooleanVar(win, value=False)
            ttk.Checkbutton(body, text=label, variable=var_b).pack(anchor="w")
            self.form[key] = var_b

        self.message = ttk.Label(frame, style="Error.TLabel", wraplength=460, justify="left")
        self.message.pack(anchor="w", pady=(6, 0))
        self.advice = ttk.Frame(frame)
        self.advice.pack(fill="x")
        bottom = ttk.Frame(frame)
        bottom.pack(fill="x", pady=(8, 0))
        self.cancel = ttk.Button(bottom, text="Cancel", command=win.destroy)
        self.cancel.pack(side="right")
        self.save = ttk.Button(bottom, text="Save", style="Accent.TButton", command=self.submit)
        self.save.pack(side="right", padx=(0, 8))
        self.saved = False
        win.bind("<Return>", lambda _e: self.submit())
        style.show(win, "center")
        self.scales["upper_back"].focus_set()

    # --- sliders snap to whole numbers -----------------------------------------------------------

    @staticmethod
    def _snap(scale: ttk.Scale, var: tk.IntVar, value: str) -> None:
        n = round(float(value))
        if var.get() != n:
            var.set(n)
        if abs(float(value) - n) > 1e-9:
            scale.set(n)

    def _step(self, scale: ttk.Scale, var: tk.IntVar, delta: int) -> str:
        return self._set(scale, var, min(10, max(0, var.get() + delta)))

    @staticmethod
    def _set(scale: ttk.Scale, var: tk.IntVar, value: int) -> str:
        scale.set(value)
        var.set(value)
        return "break"

    # --- saving ----------------------------------------------------------------------------------

    def submit(self) -> None:
        if self.saved:
            self.win.destroy()
            return
        values = {key: var.get() for key, var in self.values.items()}
        flags = frozenset(k for k, v in self.form.items() if v.get())
        try:
            lines = self.on_save(values, flags, self.si_pain.get())
        except UserError as exc:
            self.message.configure(text=str(exc))
            return
        except Exception as exc:
            log.exception("saving the soreness report failed")
            self.message.configure(text=f"Could not save: {exc}")
            return
        self.saved = True
        self.message.configure(text="")
        self.body.pack_forget()
        self.intro.pack_forget()
        self.message.pack_forget()
        said = ", ".join(f"{SHORT[key]} {values[key]}" for key, _ in REGIONS)
        ttk.Label(self.advice, text=f"Saved: {said}.", style="Muted.TLabel").pack(anchor="w", pady=(4, 0))
        ttk.Label(self.advice, text="What this means:", style="Heading.TLabel").pack(anchor="w", pady=(8, 2))
        for line in lines:
            style.wrap_label(self.advice, f"• {line}", width=460, style="Advice.TLabel").pack(anchor="w", pady=1)
        self.save.configure(text="Close")
        self.cancel.pack_forget()
        self.save.focus_set()
        self.win.update_idletasks()
        self.win.minsize(self.win.winfo_reqwidth(), self.win.winfo_reqheight())
