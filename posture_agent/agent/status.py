"""What the running agent answers when asked how it is: for the tray, `posture-agent pause|resume`
and the control channel (as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from posture_agent.agent.events import ActivePrompt
from posture_agent.agent.prompts import Held
from posture_agent.domain.plan import Prompt


@dataclass(frozen=True)
class Status:
    """What a tray shows: the next prompt, the pause, today's rest day and SI protocol day."""

    now: datetime
    next_prompt: Prompt | None
    paused_until: datetime | None
    rest_today: bool
    si_protocol_day: int | None
    """Day N of `si_protocol_days`, None when the protocol is not running."""
    si_protocol_days: int
    open_prompts: tuple[ActivePrompt, ...]
    notifications_ok: bool
    failing_jobs: tuple[str, ...] = ()
    """Jobs that failed repeatedly and still do (details: `doctor`)."""
    held: tuple[Held, ...] = ()
    """Due prompts held while the user is away or busy, with the reason."""
    si_running_again: date | None = None
    """The first local day running is fine again, while the SI protocol runs."""

    def to_json(self, zone: Any) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.astimezone(zone).isoformat(timespec="seconds") if at else None

        nxt = self.next_prompt
        return {
            "now": iso(self.now),
            "next_prompt": None if nxt is None else {
                "kind": nxt.kind, "context": nxt.context, "due": iso(nxt.due), "title": nxt.title(),
            },
            "paused_until": iso(self.paused_until),
            "rest_today": self.rest_today,
            "si_protocol_day": self.si_protocol_day,
            "si_protocol_days": self.si_protocol_days,
            "si_running_again": self.si_running_again.isoformat() if self.si_running_again else None,
            "open_prompts": [
                {"id": a.id, "kind": a.prompt.kind, "context": a.prompt.context, "due": iso(a.prompt.due)}
                for a in self.open_prompts
            ],
            "notifications_ok": self.notifications_ok,
            "failing_jobs": list(self.failing_jobs),
            "held": [
                {"kind": h.prompt.kind, "context": h.prompt.context, "due": iso(h.prompt.due), "reason": h.reason}
                for h in self.held
            ],
        }
