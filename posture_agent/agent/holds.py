"""The prompts held while the user is away, kept in a file in the runtime folder (as the pause is)
so that an agent stopped or killed while holding one does not lose it: the next start puts them
back, and its first pass shows each one still due or stores it `away` (docs/presence.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from posture_agent.agent.prompts import Held
from posture_agent.domain.plan import Prompt, PromptKind

log = logging.getLogger(__name__)

HOLDS_FILE = "held-prompts.json"


def save(runtime_dir: Path, held: Iterable[Held]) -> None:
    """Keep `held` (none: the file goes). A failure is logged: holding goes on in memory."""
    path = runtime_dir / HOLDS_FILE
    rows = [_row(h) for h in held]
    try:
        if not rows:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(rows), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        log.warning("could not keep the held prompts in %s", path)


def load(runtime_dir: Path) -> list[Held]:
    """What the last run held; a missing or unreadable file: nothing (logged when unreadable)."""
    path = runtime_dir / HOLDS_FILE
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [_held(row) for row in rows]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, KeyError):
        log.warning("held prompts in %s not read: the file is damaged", path)
        return []


def _row(held: Held) -> dict[str, Any]:
    p = held.prompt
    return {
        "due": p.due.isoformat(), "kind": str(p.kind), "context": p.context, "run_id": p.run_id,
        "grace_s": p.grace.total_seconds(), "note": p.note,
        "reason": held.reason, "since": held.since.isoformat(), "signal": held.signal,
    }


def _held(row: dict[str, Any]) -> Held:
    prompt = Prompt(
        datetime.fromisoformat(row["due"]), PromptKind(row["kind"]), row["context"], row["run_id"],
        timedelta(seconds=float(row["grace_s"])), str(row["note"]),
    )
    return Held(prompt, str(row["reason"]), datetime.fromisoformat(row["since"]), str(row["signal"]))
