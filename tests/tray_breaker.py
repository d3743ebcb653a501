"""`posture-agent start` whose tray thread is killed by a real D-Bus error, for the fallback tests.

Run as `python tests/tray_breaker.py --home HOME start`. `TRAY_BREAK_AFTER_S` seconds after the
tray's GLib loop starts, a callback in that loop connects to the bus at `TRAY_BREAK_BUS` (a session
bus that has gone), gets GLib's D-Bus error, and ends the loop with it raised out of
`MainLoop.run()` inside pystray — as a D-Bus failure in the indicator does. Everything else is the
real command.
"""

from __future__ import annotations

import os
import runpy

from gi.repository import Gio, GLib

AFTER_MS = int(float(os.environ.get("TRAY_BREAK_AFTER_S", "3")) * 1000)
BUS = os.environ.get("TRAY_BREAK_BUS", "unix:path=/nonexistent/bus")
_run = GLib.MainLoop.run


def run_then_break(loop: GLib.MainLoop) -> None:
    errors: list[GLib.Error] = []

    def break_it() -> bool:
        flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
        try:
            Gio.DBusConnection.new_for_address_sync(BUS, flags, None, None)
        except GLib.Error as exc:
            errors.append(exc)
        loop.quit()
        return False

    GLib.timeout_add(AFTER_MS, break_it)
    _run(loop)
    if errors:
        raise errors[0]


GLib.MainLoop.run = run_then_break  # type: ignore[method-assign]
runpy.run_module("posture_agent", run_name="__main__")
