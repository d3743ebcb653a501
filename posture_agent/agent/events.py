"""What the agent publishes: a prompt became due, a prompt closed, the agent's state changed.

The core never calls a GUI: a notifier, a tray or a test subscribes a listener. Listeners run on the
agent's worker thread; a GUI must hand the event to its own thread (e.g. a queue drained by Tk).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from posture_agent.domain.plan import Prompt

log = logging.getLogger(__name__)

PROMPT_DUE = "prompt_due"
PROMPT_CLOSED = "prompt_closed"
STATE_CHANGED = "state_changed"
WINDOW_WANTED = "window_wanted"
"""A check-in needs its window: the notification has no answer buttons, or its body was clicked."""
CAMERA_SLOUCHED = "camera_slouched"
"""A camera check found the user slouching at a desk check-in (stored, its prompt closed): one
notification says so, with "Sit tall" and "That's wrong" (`detail` is its text)."""
STOP_WANTED = "stop_wanted"
"""`posture-agent stop` asked the running agent to end: whoever runs it (the tray app, the headless
loop) stops it and returns."""


@dataclass(frozen=True)
class ActivePrompt:
    """A prompt that was shown: its row id in the `prompts` table, the plan's prompt and when."""

    id: str
    prompt: Prompt
    shown_at: datetime


@dataclass(frozen=True)
class Event:
    kind: str
    """PROMPT_DUE, PROMPT_CLOSED, STATE_CHANGED, WINDOW_WANTED or STOP_WANTED."""
    active: ActivePrompt | None = None
    outcome: str | None = None
    """For PROMPT_CLOSED: answered, skipped or missed."""
    together: tuple[ActivePrompt, ...] = ()
    """For PROMPT_DUE: the other prompts shown in the same pass (due together)."""
    detail: str = ""
    """For CAMERA_SLOUCHED: what the camera measured, in words."""


Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken listener must not stop prompts for the others
                log.exception("listener %r failed on %s", listener, event.kind)
