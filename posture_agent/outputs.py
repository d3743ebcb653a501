"""Files a command writes where the user says (a report page): never one of the user's own files
(database, backups, config, log), and always written to a temporary file and renamed, so a failure
leaves the old file as it was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from posture_agent.errors import UserError
from posture_agent.paths import Paths


def own_files(paths: Paths) -> Iterator[Path]:
    """The files that hold the user's data and settings, and their SQLite and rotation siblings."""
    db = paths.db_file
    yield from (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), db.with_name(db.name + "-journal"))
    yield paths.config_file
    log = paths.log_file
    yield log
    yield from (log.with_name(f"{log.name}.{n}") for n in range(1, 10))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # a hard link or a symlink to it
    except OSError:
        return a.resolve() == b.resolve()  # neither exists yet: compare the spelled-out paths


def refuse_own_file(target: Path, paths: Paths, option: str) -> None:
    """A UserError when `target` is, by any spelling, one of the user's files or lies among the
    backups or the running agent's files: writing there would destroy what the app keeps."""
    if any(_same_file(target, own) for own in own_files(paths)):
        raise UserError(f"{option} {target}: is one of posture-agent's own files; give another file name")
    parent = target.resolve().parent
    for folder, name in ((paths.backup_dir, "backups"), (paths.runtime_dir, "running agent's")):
        kept = folder.resolve()
        if parent == kept or kept in parent.parents:
            raise UserError(f"{option} {target}: is in the {name} folder; give a file name elsewhere")


def write_atomically(target: Path, text: str, prefix: str = ".output-") -> Path:
    """Write `text` next to `target` under a temporary name, then rename it over `target`: a full
    disk or a crash leaves the previous file, never half a file. Follows a symlink to its file."""
    final = target.resolve() if target.is_symlink() else target
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=final.suffix, dir=final.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
