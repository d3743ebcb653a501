"""The import folder (a watch's sync folder, a downloads folder): files not seen before, or changed
since, are imported; every file read is remembered by path, size and modification time, so a rescan
of a folder of thousands of old exports costs a directory listing and one query.

The running agent calls `scan_folder` periodically; the soreness prompts for imported runs follow
from the stored runs, so nothing is scheduled here.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from posture_agent.errors import UserError
from posture_agent.filenames import printable, stored
from posture_agent.importers.importing import Outcome, import_file
from posture_agent.importers.reader import is_activity_file
from posture_agent.journal import Journal
from posture_agent.store import queries as q

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0
"""A file modified this recently may still be being written (a sync in progress): next scan."""


def list_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Activity files under `folder` (hidden files and folders left out): path → (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    stack = [str(folder)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            log.warning("cannot list %s: %s", current, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file() and is_activity_file(Path(entry.name)):
                    st = entry.stat()
                    found[entry.path] = (st.st_size, st.st_mtime_ns)
            except OSError as exc:
                log.warning("cannot read %s: %s", entry.path, exc)
    return found


def scan_folder(journal: Journal, folder: Path | str, settle_seconds: float = SETTLE_SECONDS) -> list[Outcome]:
    """Import the new or changed activity files under `folder`; outcomes of those files only.

    Raises UserError when the folder does not exist (an unplugged drive, a typo in the config).
    """
    folder = Path(folder).expanduser()  # the config gives a str
    if not folder.is_dir():
        raise UserError(f"import folder {folder} does not exist or is not a folder (config key import.folder)")
    files = list_files(folder.absolute())
    with journal.store.transaction() as s:
        seen = q.import_index(s)
    now_ns, settle_ns = time.time_ns(), int(settle_seconds * 1e9)

    def settled(mtime_ns: int) -> bool:
        # A modification time in the future (a FAT-formatted watch, a wrong clock) cannot be judged.
        return not 0 <= now_ns - mtime_ns < settle_ns

    todo = sorted(p for p, stamp in files.items() if seen.get(stored(p)) != stamp and settled(stamp[1]))
    outcomes: list[Outcome] = []
    for path in todo:
        outcome = import_file(journal, Path(path))
        size, mtime_ns = files[path]
        with journal.store.transaction() as s:
            q.remember_import(s, stored(path), size, mtime_ns, outcome.status, outcome.detail, journal.now())
        log.info("folder import %s: %s: %s", printable(path), outcome.status, outcome.detail)
        outcomes.append(outcome)
    return outcomes
