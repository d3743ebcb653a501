"""Reading a file the user points at (the config, an activity export) without hanging or filling
memory: anything but a regular file is refused at once (a FIFO would block forever, /dev/zero never
ends), and no more than a bound is read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from posture_agent.errors import UserError


class NotARegularFile(OSError):
    """The path names a folder, a pipe, a device or a socket: there is no file content to read."""


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is a device, not a regular file"


def read_bounded(path: Path, limit: int) -> bytes:
    """At most `limit + 1` bytes of the regular file `path` (one more than allowed tells the caller
    it is too large). Raises NotARegularFile, or the OSError of opening it."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO with no writer returns at once
    with os.fdopen(fd, "rb") as f:
        problem = _kind(os.fstat(fd).st_mode)
        if problem:
            raise NotARegularFile(problem)
        return f.read(limit + 1)


def refuse_non_file(path: Path, what: str) -> None:
    """A UserError when something other than a file (a folder, a pipe) stands where `what` should
    be: SQLite would only say "disk I/O error", which sends the user looking at the disk."""
    try:
        problem = _kind(path.stat().st_mode)
    except OSError:
        return  # absent (created later) or unreadable (the opener says why)
    if problem:
        raise UserError(f"{what} {path} {problem}: move it away and run the command again")
