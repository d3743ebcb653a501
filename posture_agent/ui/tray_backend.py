"""Which pystray backend can show a tray icon with a working menu here, from the tray hosts running.

On Linux the menu needs PyGObject: pystray's gtk and appindicator backends have one, its xorg
backend shows an icon with no menu that ignores clicks. `choose_backend` picks a working backend,
or raises `TrayUnavailable` saying what to install, so the user never gets a dead icon. The tray
hosts are found by asking the session bus (D-Bus) and the X server (libX11 through ctypes).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence, Set

from posture_agent.errors import UserError

log = logging.getLogger(__name__)

FIX_LINUX = (
    "install PyGObject and AppIndicator: on Debian/Ubuntu `sudo apt install gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config`, then "
    "`pip install 'posture-agent[linux-desktop]'` (or run scripts/bootstrap.sh again); "
    "meanwhile `posture-agent start --no-tray` runs the agent with notifications only"
)


class TrayUnavailable(UserError):
    """No tray with a working menu can be shown here; the message says why and how to fix it."""


def choose_backend(platform: str = sys.platform, environ: Mapping[str, str] | None = None) -> str:
    """The pystray backend to use: on Linux appindicator or gtk by the tray hosts running
    (`pick_linux_backend`); the native one elsewhere.

    Raises TrayUnavailable when no backend with a menu can work, naming what to install.
    """
    env = os.environ if environ is None else environ
    if platform == "win32":
        return "win32"
    if platform == "darwin":
        return "darwin"
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        raise TrayUnavailable(
            "no graphical desktop here (DISPLAY is not set), so there is no tray; "
            "`posture-agent start --no-tray` runs the agent without one"
        )
    wanted = env.get("PYSTRAY_BACKEND", "")
    if wanted == "xorg":
        raise TrayUnavailable(
            f"PYSTRAY_BACKEND=xorg gives a tray icon without a menu on this desktop; unset it and {FIX_LINUX}"
        )
    found = available_backends()
    if wanted:
        if wanted not in found:
            raise TrayUnavailable(f"PYSTRAY_BACKEND={wanted} cannot be used here; {FIX_LINUX}")
        return wanted
    if not found:
        raise TrayUnavailable(f"the tray menu cannot work on this desktop (no PyGObject/GTK found); {FIX_LINUX}")
    hosts = tray_hosts(env)
    chosen = pick_linux_backend(found, hosts)
    log.info("tray hosts on this desktop: %s; backend %s", ", ".join(sorted(hosts)) or "none yet", chosen)
    return chosen


def pick_linux_backend(found: Sequence[str], hosts: Set[str]) -> str:
    """appindicator where a StatusNotifierItem host runs (KDE, XFCE, GNOME's AppIndicator extension)
    or where no tray is up yet (a login race: it docks in whichever kind appears); gtk where only an
    XEmbed tray runs, since appindicator would only fall back to the same XEmbed icon, 0.14 s slower
    to dock (benchmarks/tray_bench.py, bare pystray rows)."""
    if "appindicator" in found and ("sni" in hosts or "xembed" not in hosts):
        return "appindicator"
    return "gtk" if "gtk" in found else found[0]


SNI_WATCHER = "org.kde.StatusNotifierWatcher"
"""The D-Bus name a StatusNotifierItem tray host owns (the freedesktop spec kept KDE's name)."""


def tray_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The kinds of tray running now: "sni" (a watcher on the session bus), "xembed" (an X tray
    manager owns the screen's _NET_SYSTEM_TRAY selection)."""
    hosts = set()
    if _session_bus_reachable(environ) and _bus_name_has_owner(SNI_WATCHER):
        hosts.add("sni")
    display = environ.get("DISPLAY")
    if display and _xembed_manager_running(display):
        hosts.add("xembed")
    return frozenset(hosts)


def _session_bus_reachable(environ: Mapping[str, str]) -> bool:
    """Without an address or a user bus socket GLib would spawn a bus of its own: do not ask then."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    return bool(environ.get("DBUS_SESSION_BUS_ADDRESS")) or bool(runtime and os.path.exists(f"{runtime}/bus"))


def _bus_name_has_owner(name: str) -> bool:
    from gi.repository import Gio, GLib

    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
            GLib.Variant("(s)", (name,)), GLib.VariantType("(b)"), Gio.DBusCallFlags.NONE, 1000, None,
        )
    except GLib.Error as exc:
        log.info("session bus not asked for %s: %s", name, exc)
        return False
    return bool(reply.unpack()[0])


def _xembed_manager_running(display: str) -> bool:
    """XGetSelectionOwner through libX11 (loaded by GTK anyway): no X library to import for one call."""
    import ctypes

    try:
        x11 = ctypes.CDLL("libX11.so.6")
    except OSError:
        return False
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XGetSelectionOwner.restype = ctypes.c_ulong
    x11.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        return False
    try:
        selection = f"_NET_SYSTEM_TRAY_S{x11.XDefaultScreen(dpy)}".encode()
        atom = x11.XInternAtom(dpy, selection, 1)  # only if it exists: 0 means no tray ever ran
        return bool(atom) and x11.XGetSelectionOwner(dpy, atom) != 0
    finally:
        x11.XCloseDisplay(dpy)


def available_backends() -> list[str]:
    """Linux backends with a menu whose libraries load here, best first."""
    try:
        import gi
    except ImportError:
        return []
    found = []
    try:
        gi.require_version("Gtk", "3.0")
    except ValueError:
        return []
    for namespace in ("AyatanaAppIndicator3", "AppIndicator3"):
        try:
            gi.require_version(namespace, "0.1")
            found.append("appindicator")
            break
        except ValueError:
            continue
    found.append("gtk")
    return found
