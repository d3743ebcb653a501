"""One module per group of commands; each exposes `register(subparsers)`.

The command line imports only the module of the command it runs (all of them for `--help` or an
unknown command): every command, and `start`'s launch to a docked icon, starts faster for it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

GROUPS = ("records", "agent", "report", "data", "sync", "admin", "autostart")
"""The modules, in the order `--help` lists their commands."""

MODULE_OF = {
    **dict.fromkeys(("checkin", "drills", "drill", "circuit", "run", "soreness", "advice"), "records"),
    **dict.fromkeys(("start", "schedule", "pause", "resume"), "agent"),
    **dict.fromkeys(("report", "trends"), "report"),
    **dict.fromkeys(("backup", "restore"), "data"),
    **dict.fromkeys(("config", "doctor", "export"), "admin"),
    "autostart": "autostart",
    "sync": "sync",
}
"""Which module registers each command (tests/test_cli_lazy.py checks it against the modules)."""


def modules_for(command: str | None) -> list[ModuleType]:
    """The module registering `command`; every module when it is None or unknown."""
    names = [MODULE_OF[command]] if command in MODULE_OF else list(GROUPS)
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
