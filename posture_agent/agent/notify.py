"""Desktop notifications, subscribed to "prompt due" and "prompt closed".

- A check-in is asked with answer buttons (Upright, Slouched, Standing, Skip) through the
  freedesktop interface (`agent/freedesktop.py`, jeepney) wherever the server reports the `actions`
  capability: a press is the answer (`on_choice`), a click on the body asks for the window
  (`on_open`). No such server (or not Linux): a plain notification, and `ask` returns False so the
  agent opens the window at once. When the prompt closes another way, its notification is withdrawn.
- A soreness question is asked the same way, notification first: its body (or its Rate my back
  button) opens the window; it stays on screen until the question is answered or closes at the next
  morning's question (no expiry of its own), since the answer can wait hours.
- Every other notification is plain: on the same freedesktop connection on Linux (no notification
  server there: unavailable, said once; plyer would need dbus-python, which is not installed),
  else through plyer (Windows, macOS; imported on the first one, not at start).
- A camera check that found the user slouching (CAMERA_SLOUCHED) gets one notification with "Sit
  tall" and "That's wrong" where the server has buttons (`on_camera` gets the press), else a plain one.
- An ice reminder due together with a check-in (the SI protocol's 20:30 ice and the 20:30 sofa
  check-in) gets no notification of its own: the check-in's names both (`ask(active, also)`).

A missing notification daemon or no D-Bus at all is logged once and the agent keeps running: the
prompt is still recorded, and the window (or `posture-agent checkin`) can answer it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from posture_agent import session_bus
from posture_agent.agent.camera_checks import CAMERA_ACTIONS
from posture_agent.agent.events import CAMERA_SLOUCHED, PROMPT_CLOSED, PROMPT_DUE, ActivePrompt, Event
from posture_agent.agent.freedesktop import DEFAULT_ACTION, FreedesktopNotifications, NotificationsUnavailable
from posture_agent.domain.plan import CHECKIN_GROUP, Prompt, PromptKind

log = logging.getLogger(__name__)

APP_NAME = "posture-agent"
CHECKIN_ACTIONS = (("upright", "Upright"), ("slouched", "Slouched"), ("standing", "Standing"), ("skipped", "Skip"))
"""The answer buttons of a check-in notification: (posture stored, label)."""
RATE = "rate"
SORENESS_ACTIONS = ((RATE, "Rate my back"), (DEFAULT_ACTION, "Open"))
"""A soreness notification's button and body: both open its window."""
SORENESS_BODY = (
    "Click here to rate your upper, mid and lower back and SI joint, 0-10. No hurry: the question stays "
    "until tomorrow morning (or use How's my back? in the tray menu)."
)
ASKED = frozenset({CHECKIN_GROUP, PromptKind.SORENESS.value})
"""Prompts asked notification first (`ask`), not announced by a plain notification."""

OnChoice = Callable[[ActivePrompt, str], object]
OnOpen = Callable[[ActivePrompt], None]


class Notifier:
    def __init__(self, timeout_seconds: int = 120, on_choice: OnChoice | None = None,
                 on_open: OnOpen | None = None,
                 connect: Callable[..., FreedesktopNotifications] = FreedesktopNotifications,
                 on_camera: OnChoice | None = None) -> None:
        self.timeout_seconds = timeout_seconds
        self.on_choice = on_choice
        self.on_open = on_open
        self.on_camera = on_camera
        self._camera: dict[int, ActivePrompt] = {}
        """Camera slouch notifications on screen with buttons: the server's id → the check-in's prompt."""
        self.failed = False
        self.sent = 0
        self._backend: Any = None
        self._connect = connect
        self._desktop: FreedesktopNotifications | None = None
        self._desktop_said = False
        self._lock = threading.Lock()
        self._asked: dict[int, ActivePrompt] = {}
        """Check-in notifications on screen with buttons: the server's id → the prompt."""
        self._early: dict[int, str] = {}
        """Presses that arrived before `ask` stored their notification's id (the lock is never held
        across a bus call: the receiver thread that delivers replies also delivers presses)."""

    def __call__(self, event: Event) -> None:
        active = event.active
        if active is None:
            return
        if event.kind == PROMPT_DUE and active.prompt.kind not in ASKED:
            if active.prompt.kind == PromptKind.ICE and any(
                    t.prompt.kind == CHECKIN_GROUP for t in event.together):
                return  # named in the check-in's notification: one notification, not two
            self.notify(active.prompt.title(), active.prompt.message())
        elif event.kind == PROMPT_CLOSED:
            self.withdraw(active)
        elif event.kind == CAMERA_SLOUCHED:
            self.camera_slouched(active, event.detail)

    # --- check-ins with buttons ---------------------------------------------------------------

    def ask(self, active: ActivePrompt, also: tuple[Prompt, ...] = ()) -> bool:
        """Show a check-in or soreness prompt (naming the reminders `also` due with it); True when
        it carries its actions (answer buttons; a body that opens the window), so no window is needed
        yet."""
        prompt = active.prompt
        title = " · ".join([prompt.title(), *(p.title() for p in also)])
        soreness = prompt.kind == PromptKind.SORENESS

        def body(buttons: bool) -> str:
            first = SORENESS_BODY if soreness and buttons else prompt.message(buttons=buttons)
            return " ".join([first, *(p.message() for p in also)])

        desktop = self._desktop_connection()
        if desktop is not None:
            try:
                if "actions" in desktop.capabilities():
                    actions = SORENESS_ACTIONS if soreness else (*CHECKIN_ACTIONS, (DEFAULT_ACTION, "Open"))
                    nid = desktop.notify(title, body(True), actions, 0 if soreness else self.timeout_seconds)
                    with self._lock:
                        self._asked[nid] = active
                        early = self._early.pop(nid, None)
                    self.sent += 1
                    self.failed = False
                    if early is not None:  # pressed before the reply reached this thread
                        self._pressed(nid, early)
                    return True
                log.info("the notification server has no action buttons: the check-in opens a window")
            except NotificationsUnavailable as exc:
                log.warning("notification with buttons failed (%s); a plain one and the window instead", exc)
                self._drop_desktop()
        self.notify(title, body(False))
        return False

    def camera_slouched(self, active: ActivePrompt, message: str) -> None:
        """The camera's slouch notification, with "Sit tall" / "That's wrong" where buttons exist."""
        title = "Camera check"
        desktop = self._desktop_connection()
        if desktop is not None and self.on_camera is not None:
            try:
                if "actions" in desktop.capabilities():
                    nid = desktop.notify(title, message, CAMERA_ACTIONS, self.timeout_seconds)
                    with self._lock:
                        self._camera[nid] = active
                        early = self._early.pop(nid, None)
                    if early is not None:
                        self._pressed(nid, early)
                    return
            except NotificationsUnavailable as exc:
                log.warning("camera notification with buttons failed (%s); a plain one instead", exc)
                self._drop_desktop()
        self.notify(title, message)

    def withdraw(self, active: ActivePrompt) -> None:
        """The prompt closed (answered elsewhere, timed out): its buttons must not stay on screen."""
        with self._lock:
            ids = [nid for nid, a in self._asked.items() if a.id == active.id]
            for nid in ids:
                del self._asked[nid]
            desktop = self._desktop
        for nid in ids:
            if desktop is not None:
                try:
                    desktop.close_notification(nid)
                except NotificationsUnavailable as exc:
                    log.info("could not withdraw notification %d: %s", nid, exc)

    def _pressed(self, nid: int, key: str) -> None:
        """On the bus receiver's thread: hand the press on at once (no bus call from here: its reply
        would wait for this very thread). An answered notification is withdrawn when its prompt closes."""
        with self._lock:
            camera = self._camera.pop(nid, None)
            opens = key in (DEFAULT_ACTION, RATE)
            active = self._asked.pop(nid, None) if opens else self._asked.get(nid)
            if camera is not None:
                active = None
            elif active is None:
                self._early[nid] = key  # not ours (then never read), or `ask` is about to store it
                while len(self._early) > 16:
                    del self._early[next(iter(self._early))]
                return
        log.info("notification %d: %s pressed", nid, key)
        if camera is not None:
            if key in dict(CAMERA_ACTIONS) and self.on_camera is not None:
                self.on_camera(camera, key)
            return
        if active is None:
            return
        if opens:
            if self.on_open is not None:
                self.on_open(active)
        elif key in dict(CHECKIN_ACTIONS) and self.on_choice is not None:
            self.on_choice(active, key)

    def _closed(self, nid: int, reason: int) -> None:
        with self._lock:
            self._asked.pop(nid, None)  # dismissed or expired: the agent's timeout decides
            self._camera.pop(nid, None)

    def _desktop_connection(self) -> FreedesktopNotifications | None:
        with self._lock:
            if self._desktop is not None:
                return self._desktop
        try:
            desktop = self._connect(self._pressed, self._closed).open()
        except NotificationsUnavailable as exc:
            if not self._desktop_said:
                log.info("no notification buttons here (%s): check-ins open a window", exc)
            self._desktop_said = True
            return None
        with self._lock:
            self._desktop = desktop
        return desktop

    def _drop_desktop(self) -> None:
        with self._lock:
            desktop, self._desktop = self._desktop, None
            self._asked.clear()
        if desktop is not None:
            desktop.close()

    def close(self) -> None:
        self._drop_desktop()

    # --- plain notifications -------------------------------------------------------------------

    def notify(self, title: str, message: str) -> bool:
        """A plain notification: through the freedesktop connection where it opens (Linux: the
        resident then never loads plyer and dbus-python, a second D-Bus library), else plyer."""
        if self._backend is None:
            desktop = self._desktop_connection()
            failure: Exception = NotificationsUnavailable("no notification server on the session bus")
            if desktop is not None:
                try:
                    desktop.notify(title, message, (), self.timeout_seconds)
                except NotificationsUnavailable as exc:
                    failure = exc
                    self._drop_desktop()
                else:
                    return self._sent_ok()
            if session_bus.AVAILABLE:
                # Linux: the session bus is the only way a notification is shown (plyer would go
                # through dbus-python, not installed, or notify-send, which fails the same way).
                return self._unavailable(failure)
        try:
            if self._backend is None:
                from plyer import notification

                self._backend = notification
            self._backend.notify(
                title=title, message=message, app_name=APP_NAME, timeout=self.timeout_seconds
            )
        except Exception as exc:  # plyer raises many kinds (D-Bus, NotImplementedError, OSError)
            return self._unavailable(exc)
        return self._sent_ok()

    def _unavailable(self, exc: Exception) -> bool:
        """Said once in the log until a notification works again; the prompt is still recorded."""
        if not self.failed:
            log.warning(
                "desktop notifications are unavailable (%s: %s); prompts are still recorded. "
                "Run `posture-agent doctor` for a fix.", type(exc).__name__, exc,
            )
        self.failed = True
        return False

    def _sent_ok(self) -> bool:
        if self.failed:
            log.info("desktop notifications work again")
        self.failed = False
        self.sent += 1
        return True
