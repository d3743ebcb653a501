"""One module per group of commands; each exposes `register(subparsers)`.

The command line imports only the module of the command it runs (all of them for `--help` or an
unknown command): every command, and `start`'s launch to a docked icon, starts faster for it.
Choosing one module at run time takes an import inside a function: `load` spells each one out as a
plain import statement, so the import graph (scripts/import_graph.py), mypy and PyInstaller see it.
"""

from __future__ import annotations

from types import ModuleType

GROUPS = ("records", "agent", "calendar", "report", "trends", "data", "sync", "admin", "autostart", "camera")
"""The modules, in the order `--help` lists their commands."""

MODULE_OF = {
    **dict.fromkeys(("checkin", "drills", "drill", "circuit", "run", "soreness", "advice", "undo"), "records"),
    **dict.fromkeys(("start", "stop", "schedule", "pause", "resume"), "agent"),
    "report": "report",
    "trends": "trends",
    **dict.fromkeys(("backup", "restore"), "data"),
    **dict.fromkeys(("config", "doctor", "export"), "admin"),
    "autostart": "autostart",
    "sync": "sync",
    "calendar": "calendar",
    "camera": "camera",
}
"""Which module registers each command (tests/test_cli_lazy.py checks it against the modules)."""


def modules_for(command: str | None) -> list[ModuleType]:
    """The module registering `command`; every module when it is None or unknown."""
    names = [MODULE_OF[command]] if command in MODULE_OF else list(GROUPS)
    return [load(name) for name in names]


def load(group: str) -> ModuleType:
    """The module of one group of `GROUPS`."""
    if group == "records":
        from posture_agent.commands import records

        return records
    if group == "agent":
        from posture_agent.commands import agent

        return agent
    if group == "calendar":
        from posture_agent.commands import calendar

        return calendar
    if group == "report":
        from posture_agent.commands import report

        return report
    if group == "trends":
        from posture_agent.commands import trends

        return trends
    if group == "data":
        from posture_agent.commands import data

        return data
    if group == "admin":
        from posture_agent.commands import admin

        return admin
    if group == "sync":
        from posture_agent.commands import sync

        return sync
    if group == "autostart":
        from posture_agent.commands import autostart

        return autostart
    if group == "camera":
        from posture_agent.commands import camera

        return camera
    raise KeyError(group)
