"""The agent's import job: the watched folder's new files into the journal, every few minutes while
`[import] folder` is set. The importers are loaded by the first scan, so an agent that watches no
folder never carries them; an importer's failure is raised to the job's guard, which logs it and
records it for `doctor` (a job that keeps failing), and never stops the prompts.
"""

from __future__ import annotations

from pathlib import Path

from posture_agent.journal import Journal


def import_from_folder(journal: Journal, folder: str) -> None:
    from posture_agent.importers.folder import scan_folder  # only when a folder is watched

    if not folder:
        return
    scan_folder(journal, Path(folder))
