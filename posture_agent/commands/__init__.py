"""One module per group of commands; each exposes `register(subparsers)`."""

from posture_agent.commands import admin, data, records

COMMAND_MODULES = (records, admin, data)
