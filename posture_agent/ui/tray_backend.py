"""Which pystray backend can show a tray icon with a working menu here, from the tray hosts running.

On Linux, where the panel hosts StatusNotifierItem icons (a watcher on the session bus), our own
backend serves icon and menu over D-Bus (`sni`, ui/sni.py: jeepney, nothing compiled). Where only
an XEmbed tray runs, the menu needs PyGObject (the `gtk-tray` extra): pystray's gtk backend; its
xorg backend shows an icon with no menu that ignores clicks, and is never used. `choose_backend`
picks a working backend, or raises `TrayUnavailable` saying what to install, so the user never gets
a dead icon. The tray hosts are found by asking the session bus and the X server (libX11 through
ctypes).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence, Set

from posture_agent.errors import UserError
from posture_agent.session_bus import AVAILABLE as SESSION_BUS
from posture_agent.session_bus import address_known, name_has_owner

log = logging.getLogger(__name__)

FIX_LINUX = (
    "install PyGObject and AppIndicator: on Debian/Ubuntu `sudo apt install gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config`, then "
    "`pip install 'posture-agent[gtk-tray]'` (or `scripts/bootstrap.sh gtk-tray`); "
    "meanwhile `posture-agent start --no-tray` runs the agent with notifications only"
)
XEMBED_ONLY = "this desktop's tray is an XEmbed one (no StatusNotifierItem host on the session bus)"


class TrayUnavailable(UserError):
    """No tray with a working menu can be shown here; the message says why and how to fix it."""


def choose_backend(platform: str = sys.platform, environ: Mapping[str, str] | None = None) -> str:
    """The backend to use: on Linux `sni`, appindicator or gtk by the tray hosts running
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
    hosts = frozenset() if wanted else tray_hosts(env)
    # Ours first where it serves: PyGObject is then not even looked for (nor loaded into the resident).
    found = available_backends(env, gtk=False) if wanted == "sni" or "sni" in hosts else []
    if "sni" not in found:
        found = available_backends(env)
    if wanted:
        if wanted not in found:
            raise TrayUnavailable(f"PYSTRAY_BACKEND={wanted} cannot be used here; {FIX_LINUX}")
        return wanted
    chosen = pick_linux_backend(found, hosts)
    log.info("tray hosts on this desktop: %s; backend %s", ", ".join(sorted(hosts)) or "none yet", chosen)
    return chosen


def pick_linux_backend(found: Sequence[str], hosts: Set[str]) -> str:
    """`sni` where a StatusNotifierItem host runs (KDE, XFCE, GNOME's AppIndicator extension…): the
    lightest, nothing compiled. gtk where only an XEmbed tray runs (appindicator would only fall
    back to the same XEmbed icon, 0.14 s slower to dock: benchmarks/tray_bench.py). No tray up yet
    (a login race): appindicator, which docks in whichever kind appears, else `sni`, which registers
    when a StatusNotifierItem host appears.

    Raises TrayUnavailable when what runs needs a backend that is not installed."""
    if "sni" in hosts:
        for backend in ("sni", "appindicator", "gtk"):
            if backend in found:
                return backend
    elif "xembed" in hosts:
        if "gtk" in found:
            return "gtk"
        raise TrayUnavailable(f"{XEMBED_ONLY}: its menu needs PyGObject; {FIX_LINUX}")
    else:
        for backend in ("appindicator", "sni", "gtk"):
            if backend in found:
                return backend
    if "sni" in hosts and not found:
        raise TrayUnavailable(f"no session bus library (jeepney) for the tray, and no PyGObject; {FIX_LINUX}")
    raise TrayUnavailable(f"the tray menu cannot work on this desktop (no PyGObject/GTK found); {FIX_LINUX}")


SNI_WATCHER = "org.kde.StatusNotifierWatcher"
"""The D-Bus name a StatusNotifierItem tray host owns (the freedesktop spec kept KDE's name)."""


def tray_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The kinds of tray running now: "sni" (a watcher on the session bus), "xembed" (an X tray
    manager owns the screen's _NET_SYSTEM_TRAY selection)."""
    hosts = set()
    if address_known(environ) and name_has_owner(SNI_WATCHER):
        hosts.add("sni")
    display = environ.get("DISPLAY")
    if display and _xembed_manager_running(display):
        hosts.add("xembed")
    return frozenset(hosts)


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


def available_backends(environ: Mapping[str, str] | None = None, gtk: bool = True) -> list[str]:
    """Linux backends with a menu whose libraries load here: `sni` (jeepney, and a session bus to
    serve on), then appindicator and gtk (PyGObject with GTK 3, the `gtk-tray` extra; `gtk=False`:
    not looked for, so not imported)."""
    env = os.environ if environ is None else environ
    found = ["sni"] if SESSION_BUS and address_known(env) else []
    if not gtk:
        return found
    try:
        import gi
    except ImportError:
        return found
    try:
        gi.require_version("Gtk", "3.0")
    except ValueError:
        return found
    for namespace in ("AyatanaAppIndicator3", "AppIndicator3"):
        try:
            gi.require_version(namespace, "0.1")
            found.append("appindicator")
            break
        except ValueError:
            continue
    found.append("gtk")
    return found
