"""`autostart enable|disable|status`: start the agent at login, the platform's own way."""

from __future__ import annotations

import argparse
import os
from typing import Any

from posture_agent.context import Context, add_json


def register(sub: Any) -> None:
    p = sub.add_parser("autostart", help="start the agent at login (enable, disable, status)")
    p.add_argument("action", choices=["enable", "disable", "status"],
                   help="enable: start the agent at every login; disable: stop that; status: whether it is on")
    add_json(p)
    p.set_defaults(func=cmd_autostart)


def cmd_autostart(ctx: Context, args: argparse.Namespace) -> int:
    from posture_agent import autostart

    mechanism = autostart.for_platform()
    if args.action == "enable":
        # An explicit home (flag or variable) goes into the entry: the login session has neither.
        home = args.home or os.environ.get("POSTURE_AGENT_HOME") or None
        status = mechanism.enable(autostart.launch_command(home=home))
    elif args.action == "disable":
        status = mechanism.disable()
    else:
        status = mechanism.status()

    def text() -> list[str]:
        if not status.enabled:
            return [f"autostart: off ({status.mechanism}: {status.location} is absent)"]
        lines = [f"autostart: on ({status.mechanism}: {status.location})", f"starts: {' '.join(status.command or [])}"]
        if not status.target_exists:
            lines.append(f"problem: {status.target} does not exist; run `posture-agent autostart enable` again")
        return lines

    ctx.emit(status.as_json(), text)
    # `status` of an entry whose program is gone is a problem worth a non-zero exit for scripts.
    return 1 if args.action == "status" and status.enabled and not status.target_exists else 0
