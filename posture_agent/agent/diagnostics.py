"""`posture-agent doctor` checks for the agent: can a notification reach the user, and is an agent
running for this home. Each check returns {"check", "ok", "detail", "fix"}; nothing here imports a
GUI, and nothing is sent to the user's screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Check = Callable[[Any], dict[str, Any]]

DAEMON_FIX = (
    "install a notification daemon or use a desktop that has one (GNOME, KDE, Xfce, Cinnamon). "
    "Debian/Ubuntu: sudo apt install dunst libnotify-bin; Fedora: sudo dnf install dunst libnotify; "
    "Arch: sudo pacman -S dunst libnotify. Then log in again or start `dunst &`."
)
BUS_FIX = (
    "start the agent from your desktop session (it needs the session D-Bus); on a bare X session: "
    "Debian/Ubuntu: sudo apt install dbus-x11, then run `dbus-launch --exit-with-session YOUR-WM`."
)


def _result(check: str, ok: bool, detail: str, fix: str = "") -> dict[str, Any]:
    return {"check": check, "ok": ok, "detail": detail, "fix": fix or None}


def session_bus_address() -> str | None:
    """The session bus the agent would use: the environment's, or the systemd user bus socket."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime, "bus").exists():
        return f"unix:path={runtime}/bus"
    return None


def notification_service_owner(address: str) -> bool | None:
    """Whether org.freedesktop.Notifications has an owner on the bus (None: cannot tell)."""
    tool = shutil.which("dbus-send")
    if tool is None:
        return None
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    try:
        out = subprocess.run(
            [tool, "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
             "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Notifications"],
            capture_output=True, text=True, timeout=5, env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return False
    return "boolean true" in out.stdout


def check_notifications(ctx: Any) -> dict[str, Any]:
    name = "notifications"
    if sys.platform in ("win32", "darwin"):
        return _result(name, True, f"{sys.platform}: native notifications through plyer")
    address = session_bus_address()
    if address is None:
        return _result(name, False, "no session D-Bus (DBUS_SESSION_BUS_ADDRESS unset): no notifications", BUS_FIX)
    owner = notification_service_owner(address)
    if owner is False:
        return _result(name, False, "no notification daemon on the session bus: prompts stay silent", DAEMON_FIX)
    try:
        import dbus  # noqa: F401
        via = "D-Bus (dbus-python): notifications expire after the prompt timeout"
    except ImportError:
        if shutil.which("notify-send") is None:
            return _result(
                name, False, "neither dbus-python nor notify-send is installed: plyer cannot notify",
                "pip install dbus-python (needs libdbus-1-dev) or install libnotify-bin (notify-send)",
            )
        via = "notify-send (notifications do not expire; pip install dbus-python for that)"
    state = "a notification daemon is running" if owner else "daemon not verified (dbus-send missing)"
    return _result(name, True, f"{state}; sent via {via}")


def check_agent(ctx: Any) -> dict[str, Any]:
    from posture_agent.agent.lock import InstanceLock

    running = InstanceLock(ctx.paths.runtime_dir).held_by_other()
    detail = "an agent is running for this home" if running else "no agent running (posture-agent start)"
    return _result("agent", True, detail)


def doctor_checks() -> Iterable[Check]:
    return (check_notifications, check_agent)
