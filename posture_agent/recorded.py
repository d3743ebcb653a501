"""What the journal answers with, beside the domain's records: a drill's state today, a run saved
with its warning, what was taken back. Plain data in a module of its own, so that a process that
never opens the database (the resident agent, which asks a worker process) can read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from posture_agent.domain import records as r
from posture_agent.domain.drills import Drill
from posture_agent.timeparse import format_duration, spoken


@dataclass(frozen=True)
class DrillState:
    drill: Drill
    done: bool
    done_at: datetime | None


@dataclass(frozen=True)
class RunSaved:
    run: r.Run
    warning: str | None


@dataclass(frozen=True)
class TakenBack:
    """What `drill untick`, `run delete` or `undo` took back (kept as tombstones), and the earlier
    version of a run put back when the undone record was that run's edit."""

    kind: str
    records: tuple[Any, ...]
    restored: r.Run | None = None

    def describe(self, zone: tzinfo, now: datetime) -> str:
        """One human line in local time, e.g. "Removed check-in: slouched at the desk, 10:00."."""
        parts = [describe(x, zone, now) for x in self.records]
        if self.restored is not None:
            x = self.restored
            return (f"Undid the edit of run {self.records[0].id[:8]}: back to {x.distance_km:g} km in "
                    f"{format_duration(x.duration)}, {spoken(x.start, zone, now)} (now run {x.id[:8]}).")
        return f"Removed {self.kind}{'s' if len(parts) > 1 else ''}: {'; '.join(parts)}."


def describe(x: Any, zone: tzinfo, now: datetime) -> str:
    """A record in a few words, its time local ("10:00" today, "Tue 24 Nov 20:30" another day)."""
    if isinstance(x, r.CheckIn):
        by = " (camera)" if x.by == "camera" else ""
        return f"{x.posture}{by} at the {x.context}, {spoken(x.at, zone, now)}"
    if isinstance(x, r.DrillDone):
        return f"{x.drill}, {spoken(x.at, zone, now)}"
    if isinstance(x, r.Circuit):
        return f"{x.rounds} round{'s' if x.rounds != 1 else ''}, {spoken(x.at, zone, now)}"
    if isinstance(x, r.Run):
        return f"{x.id[:8]}, {x.distance_km:g} km in {format_duration(x.duration)}, {spoken(x.start, zone, now)}"
    if isinstance(x, r.Soreness):
        scores = ", ".join(f"{k.replace('_', ' ')} {x.region(k)}" for k in r.REGIONS if x.region(k) is not None)
        return f"{scores or 'SI joint pain'}, {spoken(x.at, zone, now)}"
    raise TypeError(type(x).__name__)
