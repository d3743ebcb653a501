"""Desktop notifications through plyer, subscribed to "prompt due".

plyer is imported on the first notification, not at start. A missing notification daemon or no
D-Bus at all is logged once and the agent keeps running: the prompt is still recorded, and the tray
(or `posture-agent checkin`) can answer it. `posture-agent doctor` says what is missing.
"""

from __future__ import annotations

import logging
from typing import Any

from posture_agent.agent.events import PROMPT_DUE, Event

log = logging.getLogger(__name__)

APP_NAME = "posture-agent"


class Notifier:
    def __init__(self, timeout_seconds: int = 120) -> None:
        self.timeout_seconds = timeout_seconds
        self.failed = False
        self.sent = 0
        self._backend: Any = None

    def __call__(self, event: Event) -> None:
        if event.kind == PROMPT_DUE and event.active is not None:
            prompt = event.active.prompt
            self.notify(prompt.title(), prompt.message())

    def notify(self, title: str, message: str) -> bool:
        try:
            if self._backend is None:
                from plyer import notification

                self._backend = notification
            self._backend.notify(
                title=title, message=message, app_name=APP_NAME, timeout=self.timeout_seconds
            )
        except Exception as exc:  # plyer raises many kinds (D-Bus, NotImplementedError, OSError)
            if not self.failed:
                log.warning(
                    "desktop notifications are unavailable (%s: %s); prompts are still recorded. "
                    "Run `posture-agent doctor` for a fix.", type(exc).__name__, exc,
                )
            self.failed = True
            return False
        if self.failed:
            log.info("desktop notifications work again")
        self.failed = False
        self.sent += 1
        return True
