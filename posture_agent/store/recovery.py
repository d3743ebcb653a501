"""A damaged database at start: moved aside (never overwritten, never deleted), the user told in one
line where it went and which backup to restore, and no empty database silently put in its place.

The move leaves a small marker file beside the database; while it is there every command refuses
with the same line, until `posture-agent restore FILE` or `posture-agent restore --fresh`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from datetime import datetime
from pathlib import Path

from posture_agent.errors import StoreError
from posture_agent.store.backup import latest_good_backup
from posture_agent.store.sqlite_file import marker_file, move_with_sidecars, unique_path

log = logging.getLogger(__name__)

class DamagedDatabase(StoreError):
    """The database was found damaged and moved aside; the message says where and what to do."""


def stamp() -> str:
    return datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")


def restore_hint(backup_dir: Path) -> str:
    """The exact command that puts the newest sound backup back, or how to start empty."""
    latest = latest_good_backup(backup_dir)
    if latest is None:
        return "no backup was found; start with an empty database: posture-agent restore --fresh"
    return (
        f"restore the latest good backup: posture-agent restore {shlex.quote(str(latest))} "
        "(or start empty: posture-agent restore --fresh)"
    )


def quarantine(db_file: Path, backup_dir: Path, reason: str) -> None:
    """Move the damaged database aside, leave the marker, and raise DamagedDatabase."""
    aside = unique_path(db_file.parent, f"{db_file.stem}-damaged-{stamp()}")
    move_with_sidecars(db_file, aside)
    marker = marker_file(db_file)
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"moved_to": str(aside), "reason": reason, "at": datetime.now().astimezone().isoformat()}, f)
    log.error("database %s is damaged (%s); moved to %s", db_file, reason, aside)
    raise DamagedDatabase(
        f"the database {db_file} is damaged ({reason}); it was moved to {aside}; {restore_hint(backup_dir)}"
    )


def refuse_if_quarantined(db_file: Path, backup_dir: Path) -> None:
    """While a damaged database waits for the user's choice, say so again instead of starting empty."""
    marker = marker_file(db_file)
    if not marker.exists():
        return
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        where = str(info.get("moved_to", "?"))
    except (OSError, ValueError, AttributeError):
        where = "?"
    raise DamagedDatabase(
        f"the database {db_file} was found damaged and moved to {where}; {restore_hint(backup_dir)}"
    )


def clear_quarantine(db_file: Path) -> None:
    marker_file(db_file).unlink(missing_ok=True)
