"""Plain records: what the store hands to the rules, the plan and the reports.

They carry no session and no ORM state, so the pure parts of the app (advice, schedule, figures)
can be tested with hand-built lists. All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

POSTURES = ("upright", "slouched", "standing")
"""Answers that count towards the slouch rate."""
NON_ANSWERS = ("skipped", "missed")
"""Outcomes of a prompt that are stored but never counted as answers."""
CONTEXTS = ("desk", "car", "sofa")
ANSWERED_BY = ("user", "camera")
"""Who answered a check-in: the user's own word, or a camera check (docs/camera.md)."""
REGIONS = ("upper_back", "mid_back", "lower_back", "si_joint")
MAX_RUN_DURATION = timedelta(hours=48)
"""The longest run we accept (journal.py); reports look this far past a run's start for its end."""
FORM_FLAGS = ("arms_high", "shoulders_tense", "swing_too_big", "swing_too_small", "arms_crossing")


@dataclass(frozen=True)
class CheckIn:
    id: str
    at: datetime
    context: str
    posture: str  # one of POSTURES or NON_ANSWERS
    prompted: bool = False
    by: str = "user"  # one of ANSWERED_BY

    @property
    def answered(self) -> bool:
        return self.posture in POSTURES


@dataclass(frozen=True)
class DrillDone:
    id: str
    at: datetime
    drill: str


@dataclass(frozen=True)
class Circuit:
    id: str
    at: datetime
    rounds: int


@dataclass(frozen=True)
class Run:
    id: str
    start: datetime
    duration: timedelta
    distance_km: float
    sport: str = "running"
    source: str = "cli"
    moving: timedelta | None = None

    @property
    def end(self) -> datetime:
        return self.start + self.duration


@dataclass(frozen=True)
class Soreness:
    id: str
    at: datetime
    upper_back: int | None = None
    mid_back: int | None = None
    lower_back: int | None = None
    si_joint: int | None = None
    run_id: str | None = None
    form: frozenset[str] = field(default_factory=frozenset)
    si_pain_reported: bool = False

    def region(self, name: str) -> int | None:
        value: int | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class ProtocolEnd:
    """The user ended the SI protocol early at `at`."""

    id: str
    at: datetime


@dataclass(frozen=True)
class PromptShown:
    """A prompt the agent showed (`prompts` table): `kind` is the plan's slot, e.g. checkin-desk."""

    id: str
    kind: str
    due: datetime
    context: str | None
    shown_at: datetime | None
    outcome: str | None  # None while open, else answered, skipped, missed or away


@dataclass(frozen=True)
class History:
    """Everything the rules and the reports read, already loaded."""

    checkins: tuple[CheckIn, ...] = ()
    drills: tuple[DrillDone, ...] = ()
    circuits: tuple[Circuit, ...] = ()
    runs: tuple[Run, ...] = ()
    soreness: tuple[Soreness, ...] = ()
    protocol_ends: tuple[ProtocolEnd, ...] = ()
    first_day: datetime | None = None
    """When the database was created: days before it are not counted as planned."""
