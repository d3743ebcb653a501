"""What a window process's answer means to the agent (docs/ui.md): each control request a window
sends (`WINDOW_COMMANDS`) becomes a save to run on the agent's answers thread (`Agent.save_later`),
which stores the record and closes its prompt in one transaction (`PromptService.settle`).

- `answer` {prompt, posture, context}: a prompted check-in (handled in runtime.py, as a press in
  its notification);
- `checkin` {posture, context}: "Check in now" from the tray (no prompt; nothing for a skip);
- `drill` {name}: one drill ticked; the day's drills prompt closes with the last one;
- `circuit` {rounds}; `soreness` {values, form, si_pain}: close the open prompt of their kind;
- `run` {start, duration_s, km}: a run logged (its soreness prompts are planned from now on).

The reply's extra fields are what the window shows: a drill's local time, a run's warning, the
advice after a soreness report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from posture_agent.agent.events import ActivePrompt
from posture_agent.agent.prompts import PromptService
from posture_agent.domain import advice as rules
from posture_agent.domain.plan import PromptKind
from posture_agent.errors import UserError

WINDOW_COMMANDS = frozenset({"answer", "checkin", "drill", "circuit", "run", "soreness"})
ALREADY_CLOSED = "this check-in was already closed (answered elsewhere, or its time was up)"
Reply = dict[str, Any]
"""What a saved answer adds to the window's reply."""
Save = Callable[[], Reply]


class NotSaved(UserError):
    """An answer that could not be saved (the window says so and keeps what the user entered)."""


def window_answer(
    service: PromptService, request: dict[str, Any], now: datetime, *,
    after_run: Callable[[], object], changed: Callable[[], object],
) -> tuple[ActivePrompt | None, str, Save]:
    """(the prompt the answer may close, a label for the log, the save) for one window request;
    raises UserError (or ValueError, KeyError) for a request that makes no sense."""
    command = request["cmd"]
    if command == "checkin":
        posture, context = str(request["posture"]), str(request.get("context") or "desk")

        def checkin() -> Reply:
            service.journal.record_checkin(posture, context, at=now, source="tray")
            return {}

        return None, posture, checkin
    if command == "drill":
        name = str(request["name"])

        def drill() -> Reply:
            done = service.record_drill(name, now)
            return {"at": f"{done.at.astimezone(service.journal.zone):%H:%M}"}

        return service.open_of(PromptKind.DRILLS), f"drill {name}", drill
    if command == "circuit":
        rounds = int(request["rounds"])

        def circuit() -> Reply:
            service.record_circuit(rounds, now)
            return {}

        return service.open_of(PromptKind.CIRCUIT), f"circuit of {rounds} rounds", circuit
    if command == "soreness":
        values = {str(k): None if v is None else int(v) for k, v in dict(request["values"]).items()}
        form = frozenset(str(f) for f in request.get("form", ()))
        si_pain = bool(request.get("si_pain", False))

        def soreness() -> Reply:
            _report, advice = service.record_soreness(values, now, form, si_pain)
            changed()  # an SI protocol that starts now changes the tray's icon at once
            return {"advice": rules.messages(advice, service.journal.zone)}

        return service.open_of(PromptKind.SORENESS), "soreness report", soreness
    if command == "run":
        start = datetime.fromisoformat(str(request["start"]))
        duration = timedelta(seconds=float(request["duration_s"]))
        km = float(request["km"])

        def run() -> Reply:
            saved = service.journal.add_run(start, duration, km, source="tray")
            after_run()  # the soreness prompts of this run are planned from now on
            changed()
            return {"warning": saved.warning, "id": saved.run.id}

        return None, f"run of {km:g} km", run
    raise UserError(f"unknown window request {command!r}")
