"""Where the config, the database, the logs and the backups live: one `--home` folder, or the
platform's usual user folders."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from posture_agent.errors import UserError

APP = "posture-agent"


@dataclass(frozen=True)
class Paths:
    config_file: Path
    data_dir: Path
    log_dir: Path

    @property
    def db_file(self) -> Path:
        return self.data_dir / "posture-agent.db"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "posture-agent.log"

    @property
    def runtime_dir(self) -> Path:
        """Lock file and control socket of the running agent."""
        return self.data_dir / "run"

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Paths:
        """`home` (or POSTURE_AGENT_HOME) holds everything; otherwise the platform's folders."""
        chosen = home or os.environ.get("POSTURE_AGENT_HOME")
        if chosen:
            root = Path(chosen).expanduser().absolute()
            return cls(root / "config.toml", root / "data", root / "logs")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml",
            Path(platformdirs.user_data_dir(APP, appauthor=False)),
            Path(platformdirs.user_log_dir(APP, appauthor=False)),
        )

    def make_dirs(self) -> None:
        """Create the folders, readable by the user alone (every folder created here is 0700,
        including a new `--home` folder itself; existing folders are left as they are)."""
        for folder in (self.config_file.parent, self.data_dir, self.log_dir):
            make_private_dir(folder)


def make_private_dir(folder: Path) -> None:
    """`mkdir -p` where each folder it creates is 0700 (mkdir's `mode` covers only the last one)."""
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise UserError(f"{part} is a file where posture-agent keeps a folder: move it away or use another --home")
        if part.exists():
            break
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it a moment ago
            part.mkdir(mode=0o700)
