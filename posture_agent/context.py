"""What a command is given: the folders, the clock, the output stream (text or --json), and the
settings, store and journal, each opened on first use so a command that needs none stays light.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from posture_agent.clock import Clock, SystemClock
from posture_agent.domain.sources import SOURCES
from posture_agent.filenames import json_text, printable
from posture_agent.inputs import refuse_non_file
from posture_agent.paths import Paths


class OutputFailed(Exception):
    """Printing the result failed (a full disk behind `>`, a closed pipe) after the command ran."""

    def __init__(self, error: OSError, saved: bool) -> None:
        super().__init__(str(error))
        self.error, self.saved = error, saved


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
    saved: bool = False
    """A write was committed: a failure to print the confirmation must not read as "not saved"."""
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # noqa: T201
    """One line for the user on stderr (cli.tell)."""
    hints: Callable[[str], str] = str
    """Rewrites the text output's hints ("posture-agent drill done NAME") to a command the user can
    run (cli.runnable); JSON is never rewritten."""

    def settings(self) -> Any:
        """The settings: a config file with a mistake gives the last valid ones (else the defaults)
        and one line on stderr naming the file and line, so that no record is lost to a typo."""
        if self._settings is None:
            from posture_agent.config import ensure_config, load_settings_kept

            ensure_config(self.paths.config_file)
            loaded = load_settings_kept(self.paths.config_file)
            if loaded.problem is not None:
                self.warn(f"posture-agent: {loaded.problem_line()}")
            self._settings = loaded.settings
        return self._settings

    def store(self) -> Any:
        if self._store is None:
            from posture_agent.store.db import open_store

            self.paths.make_dirs()
            refuse_non_file(self.paths.db_file, "the database")
            self._store = open_store(self.paths.db_file, self.paths.backup_dir, now=self.clock.now())
            self._watch_writes(self._store.engine)
        return self._store

    def _watch_writes(self, engine: Any) -> None:
        from sqlalchemy import event

        pending = False

        def executed(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: bool) -> None:
            nonlocal pending
            if context.isinsert or context.isupdate or context.isdelete:
                pending = pending or cursor.rowcount != 0

        def committed(conn: Any) -> None:
            nonlocal pending
            self.saved, pending = self.saved or pending, False

        def rolled_back(conn: Any) -> None:
            nonlocal pending
            pending = False

        event.listen(engine, "after_cursor_execute", executed)
        event.listen(engine, "commit", committed)
        event.listen(engine, "rollback", rolled_back)

    def journal(self) -> Any:
        if self._journal is None:
            from posture_agent.journal import Journal

            settings = self.settings()
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
            shown = json_text(data) + "\n"
        else:
            lines = text()
            joined = lines if isinstance(lines, str) else "\n".join(lines)
            shown = "\n".join(printable(self.hints(line)) for line in joined.split("\n")) + "\n"
        self.write(shown)

    def write(self, text: str) -> None:
        """Output as it is (CSV); a failure to print it is an OutputFailed, told apart from the work."""
        if getattr(self.out, "write", None) is None:  # started with stdout closed (`>&-`)
            raise OutputFailed(OSError(errno.EBADF, "standard output is closed"), self.saved)
        try:
            self.out.write(text)
            self.out.flush()
        except OSError as exc:
            raise OutputFailed(exc, self.saved) from exc

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def add_json(parser: argparse.ArgumentParser) -> None:
    """Every listing takes --json after the command too."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")


def add_source(parser: argparse.ArgumentParser) -> None:
    """`report` and `trends` count the check-ins of one source, or both (domain/sources.py)."""
    parser.add_argument("--source", choices=SOURCES, default="all",
                        help="check-ins counted: all (default; yours where both answered), user or camera")
