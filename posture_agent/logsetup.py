"""One logging setup: a rotating file in the user's log folder; uncaught errors in any thread land
there too, so the user sees one line and the traceback is kept for a bug report."""

from __future__ import annotations

import faulthandler
import io
import logging
import os
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType


class PrivateRotatingFileHandler(RotatingFileHandler):
    """The log can name the user's records and folders: created 0600, also after each rotation."""

    failure: str | None = None
    """Why the last record could not be written (a full disk), for doctor; None while all is well."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        self.failure = None  # set again by handleError if this record cannot be written either
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """A log that cannot be written drops the record: never a traceback on the user's stderr."""
        error = sys.exc_info()[1]
        self.failure = (getattr(error, "strerror", None) or str(error)) if error else "unknown error"


def log_problem(log_file: Path) -> str | None:
    """Why the log cannot be written now, or None (doctor's check: a dropped log is otherwise silent)."""
    try:
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        return f"cannot be opened: {exc.strerror or exc}"
    os.close(fd)
    logging.getLogger(__name__).info("log check")
    for handler in logging.getLogger().handlers:
        failure = getattr(handler, "failure", None)
        if failure:
            return f"cannot be written: {failure}"
    return None


CRASH_LOG = "crashes.log"
"""Beside the log: the Python stacks of a resident agent that died of a fatal signal."""


def record_crashes(log_dir: Path) -> None:
    """A resident agent killed by SIGSEGV, SIGABRT, SIGBUS, SIGFPE or SIGILL (in GTK, GLib or any
    C library) otherwise ends with nothing anywhere: faulthandler writes every thread's stack to
    `crashes.log` (kept open for the life of the process, created 0600)."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(log_dir / CRASH_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return  # a read-only log folder must not stop the agent
    faulthandler.enable(file=fd, all_threads=True)


def setup_logging(log_file: Path, level: int = logging.INFO) -> None:
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler: logging.Handler = PrivateRotatingFileHandler(
            log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8", errors="backslashreplace"
        )
    except OSError:
        handler = logging.NullHandler()  # a read-only log folder must not stop the app
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)

    def on_error(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        logging.getLogger("posture_agent").critical("uncaught error", exc_info=(kind, exc, tb))

    def on_thread_error(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            on_error(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = on_error
    threading.excepthook = on_thread_error
