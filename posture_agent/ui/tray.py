"""The tray icon and its menu, built from a plain `TrayState` and a set of `TrayActions`.

The tray knows nothing of the agent or the store: the app gives it the state to show and the
functions to call, and calls `update(state)` when something changes. pystray is imported only when
the tray starts (it needs a display).

Which pystray backend to use is ui/tray_backend.py's (`choose_backend`); `sni` is our own
(ui/sni.py: the icon and menu over D-Bus, with the icon's shipped pixels, so Pillow is never loaded).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from posture_agent.domain import advice as rules
from posture_agent.domain.pause import PAUSES
from posture_agent.domain.plan import PromptKind
from posture_agent.ui.icon import tray_image, tray_pixmaps
from posture_agent.ui.tray_backend import choose_backend

log = logging.getLogger(__name__)

APP_NAME = "posture-agent"


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
    protocol_days: int = rules.PROTOCOL_DAYS + 1
    """Its length in local days (the report's day and the 14 after it)."""
    running_again: date | None = None
    """The first day running is fine again, while the SI protocol runs."""
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
            again = f" (running again {self.running_again:%a %d %b})" if self.running_again else ""
            lines.append(f"SI protocol day {self.protocol_day} of {self.protocol_days}: no running{again}")
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
    PromptKind.CHECKIN: "check-in", PromptKind.DRILLS: "drills", PromptKind.CIRCUIT: "strength circuit",
    PromptKind.SORENESS: "back check", PromptKind.ICE: "ice the SI joint",
}


def tray_state_from(status: Any, zone: tzinfo, note: str = "") -> TrayState:
    """A TrayState from the agent's `Status` (read by attribute, so the UI does not import the agent):
    now, next_prompt (kind, due), paused_until, rest_today, si_protocol_day, notifications_ok, held."""
    nxt = getattr(status, "next_prompt", None)
    held = getattr(status, "held", ())
    if not note and getattr(status, "notifications_ok", True) is False:
        note = "Notifications are not working (see posture-agent doctor)"
    failing = getattr(status, "failing_jobs", ())
    if not note and failing:
        note = f"The {failing[0]} job keeps failing (see posture-agent doctor)"
    return TrayState(
        now=status.now.astimezone(zone),
        next_prompt=NEXT_WORDS.get(nxt.kind, nxt.kind) if nxt is not None else None,
        next_at=nxt.due.astimezone(zone) if nxt is not None else None,
        paused_until=status.paused_until.astimezone(zone) if status.paused_until is not None else None,
        rest_day=bool(status.rest_today),
        protocol_day=status.si_protocol_day,
        protocol_days=getattr(status, "si_protocol_days", rules.PROTOCOL_DAYS + 1),
        running_again=getattr(status, "si_running_again", None),
        note=note,
        held=f"{NEXT_WORDS.get(held[0].prompt.kind, held[0].prompt.kind)} held: {held[0].reason}" if held else "",
    )


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class TrayActions:
    """What each menu item does. Called on the tray's own thread: windows are started as processes
    of their own (`app.App.open`), never by touching Tk here."""

    checkin_now: Callable[[], object] = _nothing
    drills: Callable[[], object] = _nothing
    circuit: Callable[[], object] = _nothing
    log_run: Callable[[], object] = _nothing
    soreness: Callable[[], object] = _nothing
    weekly_report: Callable[[], object] = _nothing
    undo: Callable[[], object] = _nothing
    """Undo last: take back the last record made on this computer."""
    pause: Callable[[str], object] = field(default=lambda _token: None)
    """Takes one of the PAUSES tokens: "30m", "1h", "2h", "tomorrow"."""
    resume: Callable[[], object] = _nothing
    settings: Callable[[], object] = _nothing
    about: Callable[[], object] = _nothing
    quit: Callable[[], object] = _nothing


# --- the icon --------------------------------------------------------------------------------------


class TrayStopped(RuntimeError):
    """The tray's loop ended without `stop()` and without an error of its own to name."""


class _LoopErrors(logging.Handler):
    """Keeps the last error pystray logged: its GLib loop catches what ends it, logs it, and
    returns from `Icon.run()` as if stopped."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.error: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.error = record.exc_info[1]
        elif self.error is None:
            self.error = TrayStopped(record.getMessage())


class Tray:
    def __init__(self, state: TrayState, actions: TrayActions, backend: str | None = None,
                 on_failure: Callable[[BaseException], object] | None = None) -> None:
        self.state = state
        self.actions = actions
        self.on_failure = on_failure
        """Called once, on whichever thread saw it, when the tray fails (its thread raised, its
        loop ended without `stop()`, an update raised): the icon is gone for good."""
        self.failure: BaseException | None = None
        self._stopping = False
        self._failed_once = threading.Lock()
        self.backend = backend or choose_backend()
        # Here, on the thread that makes the Tray and before its own thread starts: a change to the
        # environment while another thread reads it (GLib's threads do, and C's getenv is not safe
        # against a concurrent setenv) can crash the process.
        # `sni` is ours: pystray then loads only its toolkit-free base (its "dummy" backend).
        os.environ["PYSTRAY_BACKEND"] = "dummy" if self.backend == "sni" else self.backend
        self.ready = threading.Event()
        """Set once the icon has been handed to the desktop's tray."""
        self._icon: Any = None
        self._thread: threading.Thread | None = None

    def _make_icon(self) -> Any:
        if self.backend == "sni":
            import pystray

            from posture_agent.ui import sni

            return sni.Icon(APP_NAME, icon=tray_pixmaps(self.state.icon_state), title=self.state.tooltip,
                            menu=self._menu(pystray))
        if self.backend in ("gtk", "appindicator"):
            # before GTK starts: the tray and the window list then name us, not "python3"
            from gi.repository import GLib

            GLib.set_prgname(APP_NAME)
            GLib.set_application_name(APP_NAME)
        import pystray

        return pystray.Icon(
            APP_NAME, icon=self._image(self.state.icon_state), title=self.state.tooltip, menu=self._menu(pystray),
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
            Item("Undo last", self._safe(a.undo)),
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

    def _image(self, icon_state: str) -> Any:
        """What the backend shows: pixels for ours (no Pillow), a Pillow image for pystray's."""
        if self.backend == "sni":
            return tray_pixmaps(icon_state)
        return tray_image(icon_state)

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
        """`run()` on a daemon thread of its own; however it ends but by `stop()`, `on_failure` hears it."""
        self._thread = threading.Thread(target=self._serve, name="tray", daemon=True)
        self._thread.start()
        return self._thread

    def serve(self) -> None:
        """`run()` on the calling thread (macOS: the main thread, which AppKit needs), until `stop()`
        or a failure, which `on_failure` hears as from `start()`."""
        self._serve()

    def _serve(self) -> None:
        log.info("the tray serves on thread %s", threading.current_thread().name)
        caught = _LoopErrors()
        pystray_log = logging.getLogger("pystray")
        pystray_log.addHandler(caught)
        failure: BaseException | None = None
        try:
            self.run()
        except Exception as exc:  # any failure here ends in the documented fallback
            failure = exc
        finally:
            pystray_log.removeHandler(caught)
        if failure is None and not self._stopping:
            failure = caught.error or TrayStopped("the tray's loop ended by itself")
        if failure is not None:
            self._take_icon_away()
            self._fail(failure)

    def _take_icon_away(self) -> None:
        """A dead loop leaves its icon docked, answering no click: hide it, on this (the tray's)
        thread, running GLib's default context for the moment pystray's hide needs."""
        icon = self._icon
        if icon is None or self.backend not in ("gtk", "appindicator"):
            return
        try:
            from gi.repository import GLib

            icon.visible = False  # pystray queues the hide on the (stopped) loop's context
            context = GLib.MainContext.default()
            for _ in range(100):
                if not context.iteration(False):
                    break
        except Exception:
            log.debug("the dead tray's icon could not be hidden", exc_info=True)

    def _fail(self, exc: BaseException) -> None:
        if not self._failed_once.acquire(blocking=False):
            return
        self.failure = exc
        log.error("the tray stopped: %s: %s", type(exc).__name__, exc, exc_info=exc)
        if self.on_failure is not None:
            try:
                self.on_failure(exc)
            except Exception:
                log.exception("the tray's failure handler failed")

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def update(self, state: TrayState) -> None:
        """Show a new state: icon, tooltip and menu. Safe from any thread; nothing once the tray failed."""
        previous, self.state = self.state, state
        icon = self._icon
        if icon is None or self.failed:
            return
        try:
            import pystray

            if state.icon_state != previous.icon_state:
                icon.icon = self._image(state.icon_state)
            icon.title = state.tooltip
            icon.menu = self._menu(pystray)
        except Exception as exc:  # e.g. a D-Bus error from the indicator: the tray is gone
            self._fail(exc)
            self._stop_icon()

    def _stop_icon(self) -> None:
        self._stopping = True
        if self._icon is not None:
            try:
                self._icon.stop()
            except Exception:  # a loop that already died
                log.debug("stopping the tray icon failed", exc_info=True)

    def stop(self) -> None:
        self._stop_icon()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
