"""The tray icon and its menu, built from a plain `TrayState` and a set of `TrayActions`.

The tray knows nothing of the agent or the store: the app gives it the state to show and the
functions to call, and calls `update(state)` when something changes. pystray is imported only when
the tray starts (it needs a display).

On Linux the menu needs PyGObject: pystray's gtk and appindicator backends have one, its xorg
backend shows an icon with no menu that ignores clicks. `choose_backend` picks a working backend,
or raises `TrayUnavailable` saying what to install, so the user never gets a dead icon.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from posture_agent.errors import UserError

log = logging.getLogger(__name__)

APP_NAME = "posture-agent"
PAUSES = (("30m", "30 minutes"), ("1h", "1 hour"), ("2h", "2 hours"), ("tomorrow", "Until tomorrow"))
"""The pause choices, as the tokens `posture-agent pause` takes and the menu's words."""
PROTOCOL_DAYS = 14

FIX_LINUX = (
    "install PyGObject and AppIndicator: on Debian/Ubuntu `sudo apt install gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config`, then "
    "`pip install 'posture-agent[linux-desktop]'` (or run scripts/bootstrap.sh again); "
    "meanwhile `posture-agent start --no-tray` runs the agent with notifications only"
)


class TrayUnavailable(UserError):
    """No tray with a working menu can be shown here; the message says why and how to fix it."""


# --- what the tray shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrayState:
    """Everything the icon and the menu show, as plain values (times timezone-aware)."""

    now: datetime | None = None
    next_prompt: str | None = None
    """What comes next, in words: "check-in", "drills", "strength circuit"…"""
    next_at: datetime | None = None
    paused_until: datetime | None = None
    rest_day: bool = False
    protocol_day: int | None = None
    """Day N of the SI protocol while it runs."""
    note: str = ""
    """An extra line, e.g. a problem the user should know about."""
    held: str = ""
    """A prompt held while the user is away or busy, in words: "check-in held: screen locked"."""

    @property
    def icon_state(self) -> str:
        if self.paused_until is not None:
            return "paused"
        if self.protocol_day is not None:
            return "protocol"
        return "normal"

    def when(self, at: datetime) -> str:
        """'14:15', 'tomorrow 07:30' or 'Mon 09:00', in the zone `at` carries."""
        if self.now is None:
            return f"{at:%H:%M}"
        today = self.now.astimezone(at.tzinfo).date()
        day = at.date()
        if day == today:
            return f"{at:%H:%M}"
        if day == today + timedelta(days=1):
            return f"tomorrow {at:%H:%M}"
        if day < today + timedelta(days=7):
            return f"{at:%a %H:%M}"
        return f"{at:%d %b %H:%M}"

    def status_lines(self) -> list[str]:
        lines = []
        if self.paused_until is not None:
            lines.append(f"Paused until {self.when(self.paused_until)}")
        if self.protocol_day is not None:
            lines.append(f"SI protocol day {self.protocol_day} of {PROTOCOL_DAYS}: no running")
        elif self.rest_day:
            lines.append("Rest day: no running today")
        if self.paused_until is None:
            if self.next_prompt and self.next_at is not None:
                lines.append(f"Next: {self.next_prompt} at {self.when(self.next_at)}")
            elif not lines and self.now is not None:  # now=None: the agent's state is not known yet
                lines.append("No prompts planned")
        if self.held:
            lines.append(self.held[:1].upper() + self.held[1:])
        if self.note:
            lines.append(self.note)
        return lines

    @property
    def tooltip(self) -> str:
        return f"{APP_NAME}: " + " · ".join(self.status_lines())


NEXT_WORDS = {
    "checkin": "check-in", "drills": "drills", "circuit": "strength circuit",
    "soreness": "back check", "ice": "ice the SI joint",
}


def tray_state_from(status: Any, zone: tzinfo, note: str = "") -> TrayState:
    """A TrayState from the agent's `Status` (read by attribute, so the UI does not import the agent):
    now, next_prompt (kind, due), paused_until, rest_today, si_protocol_day, notifications_ok, held."""
    nxt = getattr(status, "next_prompt", None)
    held = getattr(status, "held", ())
    if not note and getattr(status, "notifications_ok", True) is False:
        note = "Notifications are not working (see posture-agent doctor)"
    return TrayState(
        now=status.now.astimezone(zone),
        next_prompt=NEXT_WORDS.get(nxt.kind, nxt.kind) if nxt is not None else None,
        next_at=nxt.due.astimezone(zone) if nxt is not None else None,
        paused_until=status.paused_until.astimezone(zone) if status.paused_until is not None else None,
        rest_day=bool(status.rest_today),
        protocol_day=status.si_protocol_day,
        note=note,
        held=f"{NEXT_WORDS.get(held[0].prompt.kind, held[0].prompt.kind)} held: {held[0].reason}" if held else "",
    )


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class TrayActions:
    """What each menu item does. Called on the tray's own thread: open windows through the
    `Dispatcher`, never by touching Tk here."""

    checkin_now: Callable[[], object] = _nothing
    drills: Callable[[], object] = _nothing
    circuit: Callable[[], object] = _nothing
    log_run: Callable[[], object] = _nothing
    soreness: Callable[[], object] = _nothing
    weekly_report: Callable[[], object] = _nothing
    pause: Callable[[str], object] = field(default=lambda _token: None)
    """Takes one of the PAUSES tokens: "30m", "1h", "2h", "tomorrow"."""
    resume: Callable[[], object] = _nothing
    settings: Callable[[], object] = _nothing
    about: Callable[[], object] = _nothing
    quit: Callable[[], object] = _nothing


# --- choosing a backend ----------------------------------------------------------------------------


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


# --- the icon --------------------------------------------------------------------------------------


class Tray:
    def __init__(self, state: TrayState, actions: TrayActions, backend: str | None = None) -> None:
        self.state = state
        self.actions = actions
        self.backend = backend or choose_backend()
        self.ready = threading.Event()
        """Set once the icon has been handed to the desktop's tray."""
        self._icon: Any = None
        self._thread: threading.Thread | None = None

    def _make_icon(self) -> Any:
        os.environ["PYSTRAY_BACKEND"] = self.backend
        if self.backend in ("gtk", "appindicator"):
            # before GTK starts: the tray and the window list then name us, not "python3"
            from gi.repository import GLib

            GLib.set_prgname(APP_NAME)
            GLib.set_application_name(APP_NAME)
        import pystray

        from posture_agent.ui.icon import tray_image

        return pystray.Icon(
            APP_NAME, icon=tray_image(self.state.icon_state), title=self.state.tooltip, menu=self._menu(pystray),
        )

    def _menu(self, pystray: Any) -> Any:
        Item, Menu = pystray.MenuItem, pystray.Menu
        a = self.actions
        state = self.state
        items: list[Any] = [Item(line, None, enabled=False) for line in state.status_lines()]
        items += [
            Menu.SEPARATOR,
            Item("Check in now", self._safe(a.checkin_now), default=True),
            Item("Today's drills", self._safe(a.drills)),
            Item("Strength circuit", self._safe(a.circuit)),
            Item("Log a run", self._safe(a.log_run)),
            Item("How's my back?", self._safe(a.soreness)),
            Item("Weekly report", self._safe(a.weekly_report)),
            Menu.SEPARATOR,
        ]
        if state.paused_until is not None:
            items.append(Item("Resume", self._safe(a.resume)))
        else:
            choices = [Item(label, self._safe(self._pause_with(token))) for token, label in PAUSES]
            items.append(Item("Pause", Menu(*choices)))
        items += [
            Menu.SEPARATOR,
            Item("Settings", self._safe(a.settings)),
            Item("About", self._safe(a.about)),
            Item("Quit", self._safe(a.quit)),
        ]
        return Menu(*items)

    def _pause_with(self, token: str) -> Callable[[], object]:
        return lambda: self.actions.pause(token)

    @staticmethod
    def _safe(action: Callable[[], object]) -> Callable[[], None]:
        """pystray swallows nothing: a failing action is logged, and the tray keeps working."""

        def run() -> None:
            try:
                action()
            except Exception:
                log.exception("tray action failed")

        return run

    def run(self) -> None:
        """Show the icon and serve its menu until `stop()`; blocks the calling thread."""
        self._icon = self._make_icon()

        def setup(icon: Any) -> None:
            icon.visible = True
            self.ready.set()
            log.info("tray icon shown (backend %s)", self.backend)

        self._icon.run(setup)

    def start(self) -> threading.Thread:
        """`run()` on a daemon thread of its own."""
        self._thread = threading.Thread(target=self.run, name="tray", daemon=True)
        self._thread.start()
        return self._thread

    def update(self, state: TrayState) -> None:
        """Show a new state: icon, tooltip and menu. Safe from any thread."""
        previous, self.state = self.state, state
        icon = self._icon
        if icon is None:
            return
        import pystray

        if state.icon_state != previous.icon_state:
            from posture_agent.ui.icon import tray_image

            icon.icon = tray_image(state.icon_state)
        icon.title = state.tooltip
        icon.menu = self._menu(pystray)

    def stop(self) -> None:
        if self._icon is not None:
            self._icon.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
