"""The pause choices: the tokens `posture-agent pause` and the tray's menu take, the menu's words,
and when each one ends. Written once here for the command line, the tray and the agent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from posture_agent.domain.plan import wall_time

PAUSES = (("30m", "30 minutes"), ("1h", "1 hour"), ("2h", "2 hours"), ("tomorrow", "Until tomorrow"))
"""Each pause choice as its token and the menu's words."""
PAUSE_CHOICES = tuple(token for token, _label in PAUSES)


def pause_until(choice: str, now: datetime, zone: Any) -> datetime:
    """30m, 1h, 2h, or tomorrow (the start of the next local day)."""
    spans = {"30m": timedelta(minutes=30), "1h": timedelta(hours=1), "2h": timedelta(hours=2)}
    if choice in spans:
        return now + spans[choice]
    if choice == "tomorrow":
        return wall_time(now.astimezone(zone).date() + timedelta(days=1), datetime.min.time(), zone)
    raise ValueError(f"pause {choice!r} is not one of: {', '.join(PAUSE_CHOICES)}")
