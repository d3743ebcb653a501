"""The welcome on a user's first start with a tray: when it is due, and that it was shown.

A first start is one that finds no config file yet (only `start` writes it; the other commands
only read it) in a home where the welcome was never shown. A config file written before the first
start (copied from another computer, or by a script) means the user has chosen already: no welcome.
`start` decides this before it writes the file; the app records the welcome as shown (a small file
in the data folder) as it opens the window, so it appears once, whether it is saved or closed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from posture_agent.paths import Paths

SHOWN_FILE = "welcome-shown"


def shown_marker(paths: Paths) -> Path:
    return paths.data_dir / SHOWN_FILE


def is_first_start(paths: Paths) -> bool:
    """Before `start` writes the config and makes the database: is the welcome due?"""
    return not paths.config_file.exists() and not shown_marker(paths).exists()


def mark_shown(paths: Paths) -> None:
    """The welcome is being shown: it is not shown again in this home."""
    with contextlib.suppress(OSError):  # a read-only data folder: at worst it is shown once more
        paths.make_dirs()
        shown_marker(paths).touch()
