"""macOS through ctypes: seconds since the last input event of the login session from Quartz's
`CGEventSourceSecondsSinceLastEventType` (no PyObjC needed). The call is injectable, so this is
tested on any platform through a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from posture_agent.presence.base import SignalUnavailable, idle_reason

COMBINED_SESSION_STATE = 0  # kCGEventSourceStateCombinedSessionState
ANY_INPUT_EVENT = 0xFFFFFFFF  # kCGAnyInputEventType
QUARTZ = "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices"


def seconds_since_input() -> float:  # pragma: no cover - macOS only
    import ctypes

    try:
        quartz = ctypes.CDLL(QUARTZ)
    except OSError as exc:
        raise SignalUnavailable(f"Quartz cannot be loaded: {exc}") from None
    call = quartz.CGEventSourceSecondsSinceLastEventType
    call.restype = ctypes.c_double
    call.argtypes = [ctypes.c_int32, ctypes.c_uint32]
    return float(call(COMBINED_SESSION_STATE, ANY_INPUT_EVENT))


class MacIdle:
    kind = "idle"
    source = "macOS CGEventSource"

    def __init__(self, idle_seconds: float, since_input: Callable[[], float] = seconds_since_input) -> None:
        self.idle_seconds = idle_seconds
        self.since_input = since_input

    def away(self, now: datetime) -> str | None:
        return idle_reason(self.since_input(), self.idle_seconds)
