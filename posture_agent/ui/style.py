"""The windows' shared look and placement: a hidden Tk root, legible fonts, big touch-friendly
buttons, and where a window appears (near the tray, or centred)."""

from __future__ import annotations

import logging
import sys
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import Any

log = logging.getLogger(__name__)

BASE_PT = 11
PAD = 12
ACCENT = "#167a68"
ERROR = "#b00020"
MUTED = "#555555"
NOTIFICATION_ROOM = 120
"""Pixels left free above a window shown near a top tray, for the notification that came with it."""


def make_root(screen: str | None = None) -> tk.Tk:
    """The hidden root every window hangs from, with the app's fonts and ttk styles.
    `screen` is an X display name (default: $DISPLAY)."""
    root = tk.Tk(screenName=screen, className="PostureAgent")
    root.withdraw()
    apply_style(root)
    return root


def apply_style(root: tk.Tk) -> None:
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont"):
        tkfont.nametofont(name, root=root).configure(size=BASE_PT)
    family = tkfont.nametofont("TkDefaultFont", root=root).actual("family")
    style = ttk.Style(root)
    if sys.platform.startswith("linux") and "clam" in style.theme_names():
        style.theme_use("clam")
    bg = style.lookup("TFrame", "background") or "#dcdad5"
    root.configure(background=bg)
    style.configure(".", font=(family, BASE_PT))
    style.configure("TButton", padding=(10, 6))
    style.configure("Big.TButton", font=(family, 15, "bold"), padding=(14, 14), justify="center", anchor="center")
    style.configure("Accent.TButton", font=(family, BASE_PT, "bold"), padding=(12, 7))
    style.configure("Title.TLabel", font=(family, 15, "bold"))
    style.configure("Heading.TLabel", font=(family, 12, "bold"))
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Focus.TLabel", foreground=ACCENT, font=(family, BASE_PT, "bold"))
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Advice.TLabel", font=(family, 12))
    # clam draws 10 px boxes: too small to hit or see on a laptop screen
    for widget in ("TCheckbutton", "TRadiobutton"):
        style.configure(widget, padding=(2, 4), indicatorsize=16, indicatormargin=(0, 0, 6, 0))
    style.configure("Drill.TCheckbutton", font=(family, 12, "bold"))
    style.configure("Done.Drill.TCheckbutton", foreground=ACCENT)


def new_window(root: tk.Misc, title: str) -> tk.Toplevel:
    """A Toplevel that stays hidden until `show` places it, so it never flashes at 0,0."""
    win = tk.Toplevel(root)
    win.withdraw()
    win.title(title)
    win.configure(background=ttk.Style(win).lookup("TFrame", "background") or "#dcdad5")
    win.bind("<Escape>", lambda _e: win.destroy())
    return win


def show(win: tk.Toplevel, where: str = "center", focus: bool = True) -> None:
    """Place and map `win`: "center", or "tray" (the screen corner where the tray usually is)."""
    win.update_idletasks()
    w, h = win.winfo_reqwidth(), win.winfo_reqheight()
    sw, sh = win.winfo_screenwidth(), win.winfo_screenheight()
    if where == "tray":
        margin = 16
        x = sw - w - margin
        # Windows and KDE keep the tray at the bottom; GNOME, XFCE panels and macOS at the top,
        # where notification daemons (dunst, xfce4-notifyd, macOS) also stack theirs: start below
        # the first notification so the prompt's own notification does not hide the question.
        y = sh - h - 56 if sys.platform == "win32" else 44 + NOTIFICATION_ROOM
    else:
        x, y = (sw - w) // 2, max(0, (sh - h) // 3)
    win.geometry(f"+{max(0, x)}+{max(0, y)}")
    win.minsize(w, h)
    if not focus:
        dont_take_focus(win)
    win.deiconify()
    win.lift()
    if focus:
        win.focus_set()


def dont_take_focus(win: tk.Toplevel) -> None:
    """Ask the window manager not to give `win` the keyboard when it appears (EWMH
    _NET_WM_USER_TIME = 0), so a check-in never swallows what the user is typing."""
    if not sys.platform.startswith("linux") or win._windowingsystem != "x11":
        return
    try:
        import importlib

        xlib: Any = importlib.import_module("Xlib.display")  # python-xlib, a pystray dependency
        disp = xlib.Display(win.winfo_screen())
        try:
            # Tk wraps each toplevel in a "wrapper" window: that is the client the WM manages
            inner = disp.create_resource_object("window", win.winfo_id())
            window = inner.query_tree().parent
            atom = disp.intern_atom("_NET_WM_USER_TIME")
            cardinal, replace = 6, 0  # Xatom.CARDINAL, X.PropModeReplace
            window.change_property(atom, cardinal, 32, [0], replace)
            disp.sync()
        finally:
            disp.close()
    except Exception:  # a missing Xlib or an odd display must not stop the prompt
        log.debug("could not set _NET_WM_USER_TIME", exc_info=True)


def wrap_label(parent: tk.Misc, text: str, width: int = 460, style: str = "TLabel") -> ttk.Label:
    return ttk.Label(parent, text=text, wraplength=width, justify="left", style=style)
