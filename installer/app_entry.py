"""Entry of the windowed launcher (`posture-agent-app`, the macOS .app's executable): with no
command it runs `start`, so a double click, the Start menu or a login item starts the tray agent."""

import argparse
import sys

from posture_agent.cli import build_parser, main


def launcher_args(argv: list[str]) -> list[str]:
    """Drop macOS's `-psn_…` process serial number; add `start` when no command is named."""
    args = [a for a in argv if not a.startswith("-psn_")]
    commands = {"start"}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    return args if any(a in commands for a in args) else [*args, "start"]


if __name__ == "__main__":
    sys.exit(main(launcher_args(sys.argv[1:])))
