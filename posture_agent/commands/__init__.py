"""One module per group of commands; each exposes `register(subparsers)`."""

from posture_agent.commands import admin, agent, autostart, data, records, report

COMMAND_MODULES = (records, agent, report, data, admin, autostart)
