"""What each window process is given on its command line (window_process.py): plain data read
through the agent (its journal: the worker process in `posture-agent start`), never a session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posture_agent import __version__
from posture_agent.agent.events import ActivePrompt

if TYPE_CHECKING:  # the agent is loaded after the icon docks (app.py)
    from posture_agent.agent.core import AgentCore

MIN_CHECKIN_S = 10.0
"""A check-in window with less time than this left is not shown (its answer would be rushed)."""
TOO_LATE = "too late"


def window_args(name: str, active: ActivePrompt | None, agent: AgentCore, zone: Any, config: Path,
                home: Path | None, data_folder: Path) -> list[str] | str:
    """The window's plain data, as its command line; a string: why it is not to be shown (`TOO_LATE`:
    a check-in that waited behind another prompt until too late to answer truly)."""
    if name == "checkin":
        if active is None:  # Check in now: no prompt, no countdown; closed unanswered, nothing stored
            return ["--context", "sofa" if agent.clock.now().astimezone(zone).hour >= 18 else "desk"]
        remaining = (agent.deadline(active) - agent.clock.now()).total_seconds()
        if remaining < MIN_CHECKIN_S:
            return TOO_LATE
        return ["--prompt", active.id, "--context", active.prompt.context or "desk",
                "--seconds-left", f"{remaining:.0f}"]
    data: dict[str, Any] = {}
    if name == "drills":
        journal = agent.journal
        data["items"] = [
            {"name": s.drill.name, "title": s.drill.title, "how": s.drill.how, "dose": s.drill.dose,
             "done_at": f"{s.done_at.astimezone(zone):%H:%M}" if s.done_at else None}
            for s in journal.drills_for()]
        data["heading"] = f"Today's drills, {journal.now().astimezone(zone):%a %d %b}"
    elif name == "circuit":
        settings = agent.settings
        data["exercises"] = [
            {"name": n, "title": settings.catalogue[n].title, "how": settings.catalogue[n].how,
             "dose": settings.catalogue[n].dose} for n in settings.circuit_exercises]
        data["rounds"] = settings.circuit_rounds
    elif name == "run":
        runs = agent.journal.runs()
        data["now"] = agent.clock.now().astimezone(zone).isoformat()
        data["zone"] = getattr(zone, "key", None)
        data["last"] = [runs[-1].distance_km, runs[-1].duration.total_seconds()] if runs else None
    elif name in ("settings", "welcome"):
        data["config"] = str(config)
        if name == "welcome":  # for its autostart entry, which must name this home
            data["home"] = str(home) if home is not None else None
    elif name == "about":
        data.update(version=__version__, data_folder=str(data_folder), config_file=str(config))
    return ["--data", json.dumps(data)]
