"""What the agent asks of the data, as one narrow interface: the journal's reads and writes that the
prompt service, the status lines, the answers and the housekeeping jobs need (`JournalPort`), and
the chores that need the database itself (`Chores`: the day's backup, the sync round, the import
folder).

Two implementations: in the same process (`journal.Journal` itself, and `agent/chores.py`), which
the tests and benchmarks that build an agent on a store use; and the worker process's client
(`agent/worker_client.py`), which `posture-agent start` uses so that the resident never loads
SQLAlchemy or the store. Both go through the same Journal and Store as the command line: one
data path. Nothing here imports the store.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from posture_agent.clock import Clock
from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import records as r
from posture_agent.recorded import DrillState, RunSaved, TakenBack

Checkin = tuple[str, str, datetime | None]
"""A check-in answer: posture, context, when given (None: now)."""


class JournalPort(Protocol):
    """The part of `journal.Journal` the running agent uses (same names, same meaning)."""

    settings: Settings
    zone: tzinfo
    clock: Clock

    def now(self) -> datetime: ...

    def configured(self, settings: Settings) -> JournalPort:
        """The same data under new settings (a config reload)."""
        ...

    def forget_device(self) -> None: ...

    def installed_at(self) -> datetime | None: ...

    def history(self, start: datetime | None = None, end: datetime | None = None) -> r.History: ...

    def advice(self, at: datetime | None = None) -> rules.Advice: ...

    def drills_for(self, day: date | None = None) -> list[DrillState]: ...

    def runs(self) -> list[r.Run]: ...

    def prompts_shown(self, start: datetime | None = None, end: datetime | None = None) -> list[r.PromptShown]: ...

    def open_prompts(self) -> list[r.PromptShown]: ...

    def record_prompt_shown(self, kind: str, due: datetime, context: str | None) -> r.PromptShown | None: ...

    def record_prompt_away(self, kind: str, due: datetime, context: str | None) -> bool: ...

    def close_prompt(self, prompt_id: str, outcome: str,
                     missed_checkin: tuple[str, datetime] | None = None) -> bool: ...

    def answer_prompt(self, prompt_id: str, outcome: str, checkin: Checkin | None = None, by: str = "user",
                      measures: tuple[float | None, float | None] = (None, None)) -> bool: ...

    def record_checkin(
        self, posture: str, context: str = "desk", at: datetime | None = None, source: str = "cli",
        prompted: bool = False, by: str = "user", measures: tuple[float | None, float | None] = (None, None),
    ) -> r.CheckIn: ...

    def answer_drills(self, names: list[str], at: datetime | None = None, source: str = "cli",
                      answers: str | None = None) -> tuple[list[r.DrillDone], bool]: ...

    def answer_circuit(self, rounds: int | None = None, at: datetime | None = None, source: str = "cli",
                       answers: str | None = None) -> tuple[r.Circuit, bool]: ...

    def answer_soreness(
        self, values: dict[str, int | None], at: datetime | None = None, run: str | None = None,
        form: frozenset[str] = frozenset(), si_pain: bool = False, source: str = "cli", answers: str | None = None,
    ) -> tuple[tuple[r.Soreness, rules.Advice], bool]: ...

    def add_run(
        self, start: datetime | None, duration: timedelta, distance_km: float, source: str = "cli",
        sport: str = "running", moving: timedelta | None = None, fingerprint: str | None = None,
        origin: str | None = None,
    ) -> RunSaved: ...

    def undo(self, source: str = "cli") -> TakenBack: ...


class Chores(Protocol):
    """The agent's housekeeping that needs the database file itself, not only the journal."""

    def daily_backup(self, now: datetime, zone: tzinfo) -> None:
        """Today's backup (SQLite's backup API, the last 7 kept)."""
        ...

    def sync_set_up(self) -> bool:
        """Whether a shared folder is set up (then a sync round runs each housekeeping minute)."""
        ...

    def sync_round(self, device_name: str) -> tuple[str, bool]:
        """One sync round: what to tell the user ("" when nothing changed), and whether this home
        got a new device id (the journal then reads it again: `forget_device`)."""
        ...

    def import_folder(self, folder: str) -> None:
        """The watched folder's new activity files into the journal."""
        ...

    def warm(self) -> None:
        """Be ready now: a prompt falls due in a moment (the worker process is started ahead)."""
        ...

    def close(self) -> None:
        """The agent stops."""
        ...

    def data_changed(self, stamp: tuple[Any, ...]) -> bool:
        """The database files moved to `stamp`: whether another process wrote (a command, a window's
        save elsewhere), not this agent's own data path; then what was read once is read again."""
        ...
