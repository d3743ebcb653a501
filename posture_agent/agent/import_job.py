"""The agent's import job: the watched folder's new files into the journal, every few minutes while
`[import] folder` is set. The importers are loaded by the first scan, so an agent that watches no
folder never carries them; an importer's failure is logged and never stops the prompts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from posture_agent.journal import Journal

log = logging.getLogger(__name__)


def import_from_folder(journal: Journal, folder: str) -> None:
    from posture_agent.importers.folder import scan_folder  # only when a folder is watched

    if not folder:
        return
    try:
        scan_folder(journal, Path(folder))
    except Exception:  # the importer's own errors must not stop prompts
        log.exception("importing from %s failed", folder)
