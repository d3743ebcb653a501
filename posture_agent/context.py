"""What a command is given: the folders, the clock, the output stream (text or --json), and the
settings, store and journal, each opened on first use so a command that needs none stays light.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from posture_agent.clock import Clock, SystemClock
from posture_agent.paths import Paths


@dataclass
class Context:
    """What a command needs: folders, clock, output streams, and the lazily opened store."""

    paths: Paths
    clock: Clock = field(default_factory=SystemClock)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    json: bool = False
    _settings: Any = None
    _store: Any = None
    _journal: Any = None

    def settings(self) -> Any:
        if self._settings is None:
            from posture_agent.config import ensure_config, load_settings

            ensure_config(self.paths.config_file)
            self._settings = load_settings(self.paths.config_file)
        return self._settings

    def store(self) -> Any:
        if self._store is None:
            from posture_agent.store.db import open_store

            self.paths.make_dirs()
            self._store = open_store(self.paths.db_file, self.paths.backup_dir)
        return self._store

    def journal(self) -> Any:
        if self._journal is None:
            from posture_agent.journal import Journal

            settings = self.settings()  # a broken config stops us before the database is touched
            self._journal = Journal(self.store(), settings, self.clock)
        return self._journal

    def use(self, settings: Any, store: Any) -> None:
        """Take settings and a store opened elsewhere: `start` checks both its own way."""
        self._settings, self._store = settings, store

    def zone(self) -> Any:
        return self.settings().zone()

    def emit(self, data: Any, text: Callable[[], str | Sequence[str]]) -> None:
        """Print `data` as JSON with --json, else the human text."""
        if self.json:
            json.dump(data, self.out, indent=2, ensure_ascii=False, default=str)
            self.out.write("\n")
        else:
            lines = text()
            self.out.write((lines if isinstance(lines, str) else "\n".join(lines)) + "\n")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def add_json(parser: argparse.ArgumentParser) -> None:
    """Every listing takes --json after the command too."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")
