"""Opening a page the app wrote (the weekly report) in the user's browser, and saying when that
cannot work: without a display (an SSH session, a headless box) Python's `webbrowser` would start a
text browser in the terminal or give up, and on a desktop it reports success as soon as `xdg-open`
starts, even when no browser comes. So the callers always name the file, and say so plainly when no
browser can be opened at all."""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path


def can_open(env: Mapping[str, str] = os.environ) -> bool:
    """False where no graphical browser can open: Linux/BSD with no display and no $BROWSER."""
    if sys.platform in ("win32", "darwin") or env.get("BROWSER"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_page(page: Path, opener: Callable[[str], object] | None = None) -> bool:
    """Ask the browser to show `page`; False when it surely could not (the caller names the file)."""
    if opener is None:
        if not can_open():
            return False
        opener = webbrowser.open
    try:
        return bool(opener(page.resolve().as_uri()))
    except webbrowser.Error:
        return False
