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

from posture_agent.session_bus import AVAILABLE as SESSION_BUS

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
    if SESSION_BUS:
        via = "the session bus (jeepney): notifications expire after the prompt timeout"
    else:
        if shutil.which("notify-send") is None:
            return _result(
                name, False, "neither jeepney nor notify-send is installed: plyer cannot notify",
                "pip install jeepney (pure Python) or install libnotify-bin (notify-send)",
            )
        via = "notify-send (notifications do not expire; pip install jeepney for that)"
    state = "a notification daemon is running" if owner else "daemon not verified (dbus-send missing)"
    return _result(name, True, f"{state}; sent via {via}")


TRAY_BACKENDS = {
    "sni": "the icon and its menu served over D-Bus as a StatusNotifierItem (the panel draws them; "
           "nothing compiled needed)",
    "appindicator": "pystray's appindicator backend (PyGObject, the gtk-tray extra)",
    "gtk": "pystray's gtk backend for an XEmbed tray (PyGObject, the gtk-tray extra)",
}


def check_tray(ctx: Any) -> dict[str, Any]:
    """Which tray backend `start` uses on this desktop now, from the tray hosts running; when none
    can serve, what to install (the gtk-tray extra for an XEmbed-only tray). Always carries
    `backend` (None: no tray here) and `hosts`."""
    from posture_agent.ui.tray_backend import TrayUnavailable, choose_backend, tray_hosts

    if sys.platform in ("win32", "darwin"):
        return _tray_result(True, f"{sys.platform}: pystray's native tray icon", backend=sys.platform)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return _tray_result(True, "no graphical desktop in this shell (DISPLAY unset): run doctor from the "
                                  "desktop to see which tray serves")
    hosts = sorted(tray_hosts(os.environ))
    try:
        backend = choose_backend()
    except TrayUnavailable as exc:
        reason, _, fix = str(exc).partition("; ")
        return _tray_result(False, reason, fix, hosts=hosts)
    named = {"sni": "a StatusNotifierItem host", "xembed": "an XEmbed tray"}
    running = " and ".join(named[h] for h in hosts) or "no tray host yet (the icon docks when one starts)"
    return _tray_result(True, f"{running}: {TRAY_BACKENDS.get(backend, backend)}", backend=backend, hosts=hosts)


def _tray_result(ok: bool, detail: str, fix: str = "", backend: str | None = None,
                 hosts: list[str] | None = None) -> dict[str, Any]:
    result = _result("tray", ok, detail, fix)
    result.update(backend=backend, hosts=hosts or [])
    return result


def check_agent(ctx: Any) -> dict[str, Any]:
    """The agent lock's state: held (by which PID), free, or left by an agent that was killed (free:
    the kernel dropped the lock with the process, so it never blocks a new start)."""
    from posture_agent.agent.lock import InstanceLock

    lock = InstanceLock(ctx.paths.runtime_dir)
    if lock.held_by_other():
        detail = f"an agent is running for this home (pid {lock.holder() or 'unknown'}; lock {lock.path} held)"
    elif lock.holder():
        detail = (
            f"no agent running; lock {lock.path} is free (left by pid {lock.holder()}, which ended "
            "without cleaning up: harmless, the next start takes it)"
        )
    else:
        detail = f"no agent running (posture-agent start); lock {lock.path} is free"
    return _result("agent", True, detail)


STALE_BACKUP_DAYS = 7


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def check_backups(ctx: Any) -> dict[str, Any]:
    """How many backups there are, the latest good one and its age. Bad when there is data but no
    good backup, or the latest is more than a week old (the running agent makes one a day)."""
    from datetime import datetime

    from posture_agent.store.backup import DAILY_PREFIX, list_backups

    paths = ctx.paths
    found = list_backups(paths.backup_dir)
    good = [b for b in found if b.ok]
    daily = [b for b in found if b.path.name.startswith(DAILY_PREFIX)]
    has_data = paths.db_file.exists() and paths.db_file.stat().st_size > 0
    fix = "posture-agent backup (now); keep the agent running for a daily one (posture-agent start)"
    if not good:
        bad = f", {len(found)} damaged" if found else ""
        detail = f"no good backup in {paths.backup_dir}{bad}"
        result = _result("backups", not has_data, detail, fix if has_data else "")
        result.update(count=len(found), latest=None, age_seconds=None)
        return result
    latest = good[0]
    age = (datetime.now().astimezone() - latest.modified).total_seconds()
    detail = (
        f"{len(found)} in {paths.backup_dir} ({len(daily)} daily, {len(found) - len(good)} damaged); "
        f"latest good: {latest.path.name}, {_age(age)} old"
    )
    stale = age > STALE_BACKUP_DAYS * 86400
    result = _result("backups", not (stale and has_data), detail, fix if stale and has_data else "")
    result.update(count=len(found), latest=str(latest.path), age_seconds=int(age))
    return result


def check_jobs(ctx: Any) -> dict[str, Any]:
    """The agent's jobs that keep failing (the watched import folder, the daily backup…)."""
    from posture_agent.agent import jobhealth

    failing = jobhealth.failing(ctx.paths.runtime_dir)
    if not failing:
        return _result("agent jobs", True, "none failing")
    return _result(
        "agent jobs", False, "; ".join(f.line() for f in failing),
        "see the log for the details; fix the cause (e.g. the config key import.folder)",
    )


def check_calendar(ctx: Any) -> dict[str, Any]:
    """The calendar's state in one line: files read, events, skipped events with file:line, or why
    it is unreadable. Read as the agent reads it (a child process with a time budget): a FIFO, a
    device or a hung mount gives its line within the budget, never a hang."""
    from posture_agent.config import load_settings_or_defaults
    from posture_agent.presence.desktop import calendar_signal

    settings, _ = load_settings_or_defaults(ctx.paths.config_file)
    calendar = calendar_signal(settings, ctx.paths.data_dir)
    if calendar is None:
        return _result("calendar", True, "none set ([presence] calendar)")
    calendar.refresh(ctx.clock.now(), wait=calendar.budget + 1)
    expansion = calendar.expansion()
    if expansion is None:
        return _result("calendar", False, f"{', '.join(calendar.sources)}: not read within {calendar.budget:g} s",
                       "check that the calendar's folder is reachable (a network mount?)")
    return _result(
        "calendar", not expansion.problems, expansion.state(),
        "" if not expansion.problems else
        "fix or remove what is named, or set [presence] calendar = \"\" (prompts go on; the rest counts)",
    )


def check_presence(ctx: Any) -> dict[str, Any]:
    """Which presence signals (idle, lock, fullscreen, dnd, calendar) this desktop offers, each read
    once now. Missing ones are not a fault (the user is then taken as present); the calendar's own
    state is the calendar check's."""
    from posture_agent.config import load_settings_or_defaults
    from posture_agent.presence.base import KINDS
    from posture_agent.presence.desktop import calendar_signal, presence_check

    settings, _ = load_settings_or_defaults(ctx.paths.config_file)
    calendar = calendar_signal(settings, ctx.paths.data_dir)
    offers = presence_check(settings.idle_minutes * 60, calendar, os.environ).offers(ctx.clock.now())
    offered = {kind: [o.source for o in offers if o.available and kind in o.kinds] for kind in KINDS}
    missing = [kind for kind in KINDS if not offered[kind]]
    parts = [f"{kind} ({', '.join(sources)})" for kind, sources in offered.items() if sources]
    detail = f"offered: {'; '.join(parts) or 'none'}"
    if missing:
        detail += f"; missing: {', '.join(missing)}"
        if "calendar" in missing and not settings.calendar:
            detail += " (no calendar file set: [presence] calendar)"
    if not parts:
        detail += ": prompts are shown whatever you are doing"
    result = _result("presence", True, detail)
    result["signals"] = [
        {"kind": o.kind, "source": o.source, "available": o.available, "detail": o.detail or None} for o in offers
    ]
    return result


def doctor_checks() -> Iterable[Check]:
    return (check_notifications, check_tray, check_agent, check_backups, check_jobs, check_calendar, check_presence)
