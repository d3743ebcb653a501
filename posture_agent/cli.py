"""The command line: parses arguments, runs one command, and turns every failure into one line on
stderr and an exit status. Command modules import heavy parts (GUI, charts, parsers) only when run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from posture_agent import CALENDAR_PROCESS, CAMERA_PROCESS, WINDOW_PROCESS, WORKER_PROCESS, __version__
from posture_agent.clock import Clock, SystemClock
from posture_agent.commands import MODULE_OF
from posture_agent.context import Context, OutputFailed
from posture_agent.domain.validation import did_you_mean
from posture_agent.errors import EXIT_BUG, EXIT_ERROR, EXIT_OK, EXIT_USAGE, UserError
from posture_agent.filenames import printable
from posture_agent.paths import Paths

log = logging.getLogger(__name__)


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (exit 2), like every other error; subcommands inherit it.
    A mistyped choice (a command, an action) gets "did you mean …" from the parser's own choices."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {with_a_guess(message)} (see: {self.prog} --help)\n")


INVALID_CHOICE = re.compile(r"invalid choice: (?P<value>'[^']*'|\"[^\"]*\"|\S+) \(choose from (?P<choices>.*)\)$")


def with_a_guess(message: str) -> str:
    """argparse's "invalid choice: 'chekin' (choose from 'checkin', …)" as "invalid choice: 'chekin';
    did you mean 'checkin'?" when one is close (difflib); else as it was."""
    found = INVALID_CHOICE.search(message)
    if found is None:
        return message
    value = found.group("value").strip("'\"")
    choices = [c.strip().strip("'\"") for c in found.group("choices").split(",")]
    guess = did_you_mean(value, choices)
    return f"{message[:found.start()]}invalid choice: {found.group('value')}{guess}" if guess else message


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


def main(argv: Sequence[str] | None = None, clock: Clock | None = None, out: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [WINDOW_PROCESS]:
        from posture_agent.window_process import main as window_main  # Tk, only in that process

        return window_main(list(argv[1:]))
    if argv[:1] == [CALENDAR_PROCESS]:
        from posture_agent.presence.ics import run as calendar_main  # icalendar, only in that process

        return calendar_main(list(argv[1:]))
    if argv[:1] == [WORKER_PROCESS]:
        from posture_agent.worker import main as worker_main  # the store: only in that process

        return worker_main(list(argv[1:]))
    if argv[:1] == [CAMERA_PROCESS]:
        from posture_agent.camera.probe import main as camera_main  # OpenCV, only in that process

        return camera_main(list(argv[1:]))
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
    ctx = Context(paths=paths, clock=clock or SystemClock(), out=out or sys.stdout, json=args.json, hints=runnable,
                  warn=tell)
    try:
        result = args.func(ctx, args)
        return int(result or EXIT_OK)
    except UserError as exc:
        log.info("refused %s: %s", args.command, exc)
        tell(f"posture-agent: {printable(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OutputFailed as exc:
        return output_failed(ctx, exc)
    except OSError as exc:  # a full disk, a read-only folder: the system's reason and the file, in one line
        log.exception("command %s failed", args.command)
        where = f": {exc.filename}" if exc.filename else ""
        tell(f"posture-agent: {printable(f'{exc.strerror or exc}{where}')}")
        return EXIT_ERROR
    except Exception as exc:  # the boundary: one line for the user, the traceback in the log
        log.exception("command %s failed", args.command)
        first = (str(exc).splitlines() or [""])[0]  # SQLAlchemy adds "[SQL: …]" lines
        tell(
            f"posture-agent: unexpected error: {exc.__class__.__name__}: {printable(first)} "
            f"(details in {paths.log_file})",
        )
        return EXIT_BUG
    finally:
        ctx.close()


def tell(line: str) -> None:
    """One line on stderr; a closed or full stderr must not turn an answer into a crash."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # AttributeError: stderr is None
        print(runnable(line), file=sys.stderr, flush=True)


HINT = re.compile(r"\bposture-agent(?= (?:" + "|".join(sorted(MODULE_OF, key=len, reverse=True)) + r")\b)")
"""`posture-agent COMMAND` in a line the user reads: a hint to run it."""


def runnable(line: str) -> str:
    """`line` with its hints naming a command the user can run: `posture-agent COMMAND` as it is
    when `posture-agent` on PATH is this program, else this program's path (before scripts/run.sh
    linked it into ~/.local/bin, `posture-agent` alone is "command not found")."""
    if "posture-agent " not in line:
        return line
    word = command_word()
    return line if word == "posture-agent" else HINT.sub(lambda _m: word, line)


@functools.cache
def command_word() -> str:
    """How the user runs this program: "posture-agent" when that name on PATH is this program (or it
    was not started as an installed `posture-agent`), else its path, ~ for the home folder."""
    me = Path(sys.argv[0])
    if me.stem != "posture-agent":  # python -m posture_agent, the frozen app, a test
        return "posture-agent"
    found = shutil.which("posture-agent")
    try:
        if found is not None and Path(found).resolve() == me.resolve():
            return "posture-agent"
        path = str(me.resolve())
    except OSError:
        return "posture-agent"
    home = str(Path.home())
    if path.startswith(home + os.sep):
        path = "~" + path[len(home):]
    return path if " " not in path else f'"{path}"'


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
        tell(f"posture-agent: saved; only printing the confirmation failed ({reason})")
        return EXIT_OK
    tell(f"posture-agent: the output could not be written: {reason}")
    return EXIT_ERROR


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    sys.exit(main())
