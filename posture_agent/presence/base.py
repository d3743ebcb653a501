"""The one interface every presence backend implements, and the check that asks them all once.

A `Signal` answers one question at the moment a prompt is due ("is the screen locked?") with a
reason when the user is away or busy, None when not. A signal that cannot be read (no such
service on this desktop, a broken calendar) raises `SignalUnavailable`; the check then takes the
user as present, so a missing part never holds prompts back forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

KINDS = ("idle", "lock", "fullscreen", "dnd", "calendar")
"""What `doctor` lists, in this order: input idle time, screen lock, fullscreen window or
presentation, do-not-disturb, a meeting in the calendar file."""


class SignalUnavailable(Exception):
    """This signal cannot be read here (the message says why, for doctor and the log)."""


ACTIVE_AGAIN_KINDS = ("idle", "lock")
"""The kinds that mean away, which the user's return ends (input, unlocking); the others mean busy."""


@dataclass(frozen=True)
class Presence:
    """Whether the user is away or busy, why in a few words ("screen locked"), and which kind of
    signal said so."""

    away: bool
    reason: str = ""
    kind: str = ""


PRESENT = Presence(False)


class Signal(Protocol):
    kind: str
    """One of KINDS."""
    source: str
    """Where it comes from, for doctor: "X11 XScreenSaver", "org.freedesktop.ScreenSaver"…"""

    def away(self, now: datetime) -> str | None:
        """The reason the user is away or busy at `now`, or None. Raises SignalUnavailable."""
        ...


@runtime_checkable
class Refreshing(Protocol):
    """A signal whose source is read ahead of the check (the calendar), never under the agent's lock."""

    def refresh(self, now: datetime, wait: float) -> None:
        """Bring what `away` reads up to date, waiting `wait` seconds at most."""
        ...


@dataclass(frozen=True)
class Offer:
    """One signal as doctor reports it: available, or why not."""

    kind: str
    source: str
    available: bool
    detail: str = ""
    kinds: tuple[str, ...] = ()
    """Every kind it answers for (Windows' notification state: lock, fullscreen and dnd)."""


class PresenceCheck:
    """Reads every signal once (cheapest first, stopping at the first that says away)."""

    def __init__(self, signals: Sequence[Signal]) -> None:
        self.signals = tuple(signals)
        self._failed: set[tuple[str, str]] = set()
        """(kind, source) of signals whose failure was logged with its traceback already."""

    def __call__(self, now: datetime) -> Presence:
        for signal in self.signals:
            try:
                reason = signal.away(now)
            except SignalUnavailable as exc:
                log.debug("presence signal %s (%s) unavailable: %s", signal.kind, signal.source, exc)
                continue
            except Exception as exc:  # a backend's bug must not stop a prompt: the user is taken as present
                if (signal.kind, signal.source) in self._failed:  # its traceback is in the log already
                    log.debug("presence signal %s (%s) failed again: %r", signal.kind, signal.source, exc)
                else:
                    self._failed.add((signal.kind, signal.source))
                    log.exception("presence signal %s (%s) failed", signal.kind, signal.source)
                continue
            if reason:
                return Presence(True, reason, signal.kind)
        return PRESENT

    def refresh(self, now: datetime, wait: float) -> None:
        """Read ahead what the signals need (the calendar's expansion), before the agent's lock."""
        for signal in self.signals:
            if isinstance(signal, Refreshing):
                try:
                    signal.refresh(now, wait)
                except Exception:  # as in a check: a backend's bug must not stop the agent's pass
                    log.exception("presence signal %s (%s) could not be read ahead", signal.kind, signal.source)

    def offers(self, now: datetime) -> list[Offer]:
        """Each signal read once, for doctor: which work on this desktop and which do not."""
        out = []
        for signal in self.signals:
            kinds = tuple(getattr(signal, "covers", (signal.kind,)))
            try:
                signal.away(now)
            except SignalUnavailable as exc:
                out.append(Offer(signal.kind, signal.source, False, str(exc), kinds))
            except Exception as exc:
                out.append(Offer(signal.kind, signal.source, False, f"{type(exc).__name__}: {exc}", kinds))
            else:
                out.append(Offer(signal.kind, signal.source, True, "", kinds))
        return out


class ActiveWatch(Protocol):
    """A one-shot "the user is active again" watch, where the desktop offers one (docs/presence.md)."""

    def arm(self, on_active: Callable[[], None]) -> None:
        """Call `on_active` once, from another thread, at the user's next activity; never where
        this desktop cannot tell. Arming again replaces the armed watch."""
        ...

    def disarm(self) -> None:
        """Drop the armed watch, if any: `on_active` is not called once this returns."""
        ...


class NoWatch:
    """Where no platform watch exists: the agent's minute re-check alone brings a held prompt back."""

    def arm(self, on_active: Callable[[], None]) -> None:
        pass

    def disarm(self) -> None:
        pass


def always_present(now: datetime) -> Presence:
    """The check when presence is not wired (tests of other parts, commands)."""
    return PRESENT


Check = Callable[[datetime], Presence]


def idle_reason(idle_seconds: float, limit_seconds: float) -> str | None:
    """The shared wording of an idle signal: "idle for 7 min" past the limit, else None."""
    if idle_seconds < limit_seconds:
        return None
    minutes = int(idle_seconds // 60)
    return f"idle for {minutes} min" if minutes else f"idle for {int(idle_seconds)} s"
