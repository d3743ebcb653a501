"""The synced folder is written by other computers and by whatever reaches the sync service, so it is
opened without ever being followed out of: each folder of ours below the one the user chose is opened
with O_NOFOLLOW and every file relative to it (`dir_fd`), files are opened O_NOFOLLOW | O_NONBLOCK and
checked with fstat (a symlink, a FIFO or a device is refused before a byte is read, never waited on),
and this computer's files are written through a temporary file created O_EXCL under an unguessable
name, then renamed (a rename replaces a planted symlink, it never writes through one).

Temporary names start with `.syncthing.` and end with `.tmp`: Syncthing never sends such a file to
another device and deletes one left for a day; every device's reader skips hidden files; and the
next round removes the ones a killed process of this computer left behind.

Where the system cannot open files relative to a folder (Windows), each folder is checked with lstat
instead, and a file's type with fstat after opening it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from pathlib import Path
from typing import BinaryIO

from posture_agent.inputs import kind_problem
from posture_agent.store.backup import process_alive

TEMP_PREFIX, TEMP_SUFFIX = ".syncthing.", ".tmp"
STALE_TEMP_SECONDS = 3600
"""A temporary file of a live process older than this is left from a hung round: removed too."""
_RELATIVE = os.open in os.supports_dir_fd and os.scandir in os.supports_fd and os.replace in os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class Refused(OSError):
    """Something in the folder this code will not open or write through; the message says why."""


class Folder:
    """One folder inside the synced folder (or the synced folder itself), opened once."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def open(cls, base: Path, *parts: str, create: bool = False) -> Folder:
        """`base` (the folder the user chose: a symlink there is the user's own choice) and then
        each of `parts` below it, none of which may be a symlink; `create` makes missing ones."""
        path = base
        fd = os.open(base, os.O_RDONLY | _DIRECTORY) if _RELATIVE else None
        try:
            for part in parts:
                path = path / part
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part if fd is not None else path, 0o700, **({"dir_fd": fd} if fd is not None else {}))
                if fd is None:
                    mode = os.lstat(path).st_mode
                    if not stat.S_ISDIR(mode):
                        raise Refused(errno.ENOTDIR, _not_a_folder(mode), str(path))
                    continue
                try:
                    inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        mode = os.lstat(part, dir_fd=fd).st_mode
                        raise Refused(exc.errno, _not_a_folder(mode), str(path)) from None
                    raise
                os.close(fd)
                fd = inner
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        return cls(path, fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _at(self, name: str) -> str | Path:
        return name if self.fd is not None else self.path / name

    def _dir(self) -> dict[str, int]:
        return {"dir_fd": self.fd} if self.fd is not None else {}

    def entries(self) -> list[tuple[str, os.stat_result]]:
        """Every name in the folder with its own lstat (a symlink as a symlink), sorted by name."""
        out = []
        with os.scandir(self.fd if self.fd is not None else self.path) as it:
            for entry in it:
                with contextlib.suppress(FileNotFoundError):
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
        return sorted(out, key=lambda e: e[0])

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._at(name), follow_symlinks=False, **self._dir())

    def exists(self, name: str) -> bool:
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    def open_file(self, name: str, limit: int) -> tuple[BinaryIO, os.stat_result]:
        """A regular file of at most `limit` bytes, opened for reading, with its fstat; Refused for
        a symlink, a FIFO, a device or a file too large, without blocking and without reading it."""
        try:
            fd = os.open(self._at(name), os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY, **self._dir())
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise Refused(exc.errno, "a symbolic link: not followed", name) from None
            raise
        try:
            info = os.fstat(fd)
            problem = kind_problem(info.st_mode)
            if problem is None and self.fd is None and stat.S_ISLNK(os.lstat(self.path / name).st_mode):
                problem = not_a_file(stat.S_IFLNK)
            if problem:
                raise Refused(errno.EINVAL, problem, name)
            if info.st_size > limit:
                raise Refused(errno.EFBIG, f"{info.st_size} bytes, more than the {limit // 2**20} MB a file may have",
                              name)
            return os.fdopen(fd, "rb"), info
        except BaseException:
            os.close(fd)
            raise

    def write_atomic(self, name: str, data: bytes) -> None:
        """All of the file or none: a new temporary file (O_EXCL, unguessable name, never a symlink
        followed), fsync, rename over `name`, fsync of the folder."""
        tmp = f"{TEMP_PREFIX}{name}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
        fd = os.open(self._at(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600, **self._dir())
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if self.fd is not None:
                os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            else:
                os.replace(self.path / tmp, self.path / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self._at(tmp), **self._dir())
            raise
        if self.fd is not None:  # where there is no folder fd (Windows) a folder cannot be fsynced
            with contextlib.suppress(OSError):
                os.fsync(self.fd)

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._at(name), **self._dir())

    def remove_planted(self) -> list[str]:
        """Remove what is not a regular file or a folder from this computer's own folder (a symlink
        or a FIFO planted through the sync service): only the entry goes, never what it points at."""
        removed = []
        for name, info in self.entries():
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                self.unlink(name)
                removed.append(name)
        return removed

    def remove_dead_temps(self) -> list[str]:
        """Remove the temporary files a killed (or hung) round of this computer left here: this
        code's own (`.syncthing.NAME.PID.RANDOM.tmp`) and older versions' (`.NAME.PID.tmp`)."""
        removed = []
        now = time.time()
        for name, info in self.entries():
            pid = temp_pid(name)
            if pid is None or not stat.S_ISREG(info.st_mode):
                continue
            if pid != os.getpid() and process_alive(pid) and now - info.st_mtime < STALE_TEMP_SECONDS:
                continue
            if pid == os.getpid() and now - info.st_mtime < STALE_TEMP_SECONDS:
                continue
            self.unlink(name)
            removed.append(name)
        return removed


def not_a_file(mode: int) -> str:
    """Why an entry of this (lstat) mode is not read: a symlink is never followed."""
    return "a symbolic link: not followed" if stat.S_ISLNK(mode) else (kind_problem(mode) or "not a regular file")


def temp_pid(name: str) -> int | None:
    """The process id in a temporary file name this code (or an older version) writes; else None."""
    if not name.endswith(TEMP_SUFFIX) or not name.startswith("."):
        return None
    parts = name[: -len(TEMP_SUFFIX)].split(".")
    if name.startswith(TEMP_PREFIX) and len(parts) >= 4 and parts[-2].isdigit():
        return int(parts[-2])
    if len(parts) >= 3 and parts[-1].isdigit():
        return int(parts[-1])
    return None


def _not_a_folder(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link where a folder should be: not followed, nothing written there"
    return f"not a folder ({kind_problem(mode) or 'a file'})"
