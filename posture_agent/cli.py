"""The command line: parses arguments, runs one command, and turns every failure into one line on
stderr and an exit status. Command modules import heavy parts (GUI, charts, parsers) only when run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO

from posture_agent import __version__
from posture_agent.clock import Clock, SystemClock
from posture_agent.errors import UserError
from posture_agent.filenames import json_text, printable
from posture_agent.inputs import refuse_non_file
from posture_agent.paths import Paths

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_STORE, EXIT_BUG = 0, 1, 2, 3, 70


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
            refuse_non_file(self.paths.db_file, "the database")
            self._store = open_store(self.paths.db_file, self.paths.backup_dir)
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

            settings = self.settings()  # a broken config stops us before the database is touched
            self._journal = Journal(self.store(), settings, self.clock)
        return self._journal

    def zone(self) -> Any:
        return self.settings().zone()

    def emit(self, data: Any, text: Callable[[], str | Sequence[str]]) -> None:
        """Print `data` as JSON with --json, else the human text."""
        if self.json:
            shown = json_text(data) + "\n"
        else:
            lines = text()
            joined = lines if isinstance(lines, str) else "\n".join(lines)
            shown = "\n".join(printable(line) for line in joined.split("\n")) + "\n"
        self.write(shown)

    def write(self, text: str) -> None:
        """Output as it is (CSV); a failure to print it is an OutputFailed, told apart from the work."""
        try:
            self.out.write(text)
            self.out.flush()
        except OSError as exc:
            raise OutputFailed(exc, self.saved) from exc

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (exit 2), like every other error; subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` names, read past the global options; None when it asks for --help first."""
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            return None
        if arg == "--home":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`'s command alone when it names one (fewer imports); else for all."""
    from posture_agent.commands import modules_for

    parser = OneLineParser(
        prog="posture-agent",
        description="Posture nudges, drills and recovery rules for runners who sit all day. "
        "Not medical advice.",
    )
    parser.add_argument("--version", action="version", version=f"posture-agent {__version__}")
    parser.add_argument("--home", metavar="DIR", help="keep config, data and logs in DIR (or POSTURE_AGENT_HOME)")
    parser.add_argument("--json", action="store_true", help="machine-readable output (see docs/cli.md)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in modules_for(None if argv is None else command_in(argv)):
        module.register(sub)
    return parser


def add_json(parser: argparse.ArgumentParser) -> None:
    """Every listing takes --json after the command too."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")


def main(argv: Sequence[str] | None = None, clock: Clock | None = None, out: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage line
        return int(exc.code or 0)
    paths = Paths.resolve(args.home)
    with contextlib.suppress(OSError, UserError):  # read-only: each command says so when it needs to write
        paths.make_dirs()  # before the log file, so folders we create are private (0700)
    from posture_agent.logsetup import setup_logging

    setup_logging(paths.log_file)
    ctx = Context(paths=paths, clock=clock or SystemClock(), out=out or sys.stdout, json=args.json)
    try:
        result = args.func(ctx, args)
        return int(result or EXIT_OK)
    except UserError as exc:
        log.info("refused %s: %s", args.command, exc)
        print(f"posture-agent: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OutputFailed as exc:
        return output_failed(ctx, exc)
    except OSError as exc:  # a full disk, a read-only folder: the system's reason and the file, in one line
        log.exception("command %s failed", args.command)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"posture-agent: {printable(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the boundary: one line for the user, the traceback in the log
        log.exception("command %s failed", args.command)
        first = (str(exc).splitlines() or [""])[0]  # SQLAlchemy adds "[SQL: …]" lines
        print(
            f"posture-agent: unexpected error: {exc.__class__.__name__}: {printable(first)} "
            f"(details in {paths.log_file})",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        ctx.close()


def output_failed(ctx: Context, exc: OutputFailed) -> int:
    """A closed pipe (`| head`) ends quietly; another failure is one line, and a command whose
    write was committed says it was saved and exits 0, so that a script does not retry it."""
    log.warning("printing the output failed: %s", exc.error)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if ctx.out is sys.stdout:  # what is left in its buffer would fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if isinstance(exc.error, BrokenPipeError):
        return EXIT_OK
    reason = exc.error.strerror or str(exc.error)
    if exc.saved:
        print(f"posture-agent: saved; only printing the confirmation failed ({reason})", file=sys.stderr)
        return EXIT_OK
    print(f"posture-agent: the output could not be written: {reason}", file=sys.stderr)
    return EXIT_ERROR


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    sys.exit(main())
