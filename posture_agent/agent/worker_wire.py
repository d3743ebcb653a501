"""How the resident agent and its worker process talk: one request, then its reply, over the child's
stdin and stdout, each a pickled message with a 4-byte length in front. Pickle, because both ends
are this program (the worker is our own child, started with our own executable) and the replies are
the journal's plain records; nothing else ever writes to these pipes.

The first message to a new worker is a `Hello` (where the data lives, the settings, whether to run
the full database check); every later one a `Request` (a journal or chore method by name, its
arguments, the resident's "now", new settings when they changed). A reply is `("ok", value)`,
`("refused", message, is_store_error)` for a `UserError` (a value the journal does not accept, a busy
or damaged database) or `("failed", "Type: message")` for anything else (its traceback is in the
worker's log); exceptions are never pickled, so the resident never unpickles a class of the store.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from posture_agent.config import Settings
from posture_agent.errors import StoreError, UserError
from posture_agent.paths import Paths

LENGTH = struct.Struct(">I")
MAX_MESSAGE = 512 * 1024 * 1024
"""A longer length is a broken pipe's garbage, not a message (ten years of history is far less)."""


@dataclass(frozen=True)
class Hello:
    paths: Paths
    settings: Settings
    now: datetime
    """The resident's time, until the first request gives it again."""
    check: bool | None
    """`open_store`'s `check`: True at the agent's start (the full quick_check), else None."""


@dataclass(frozen=True)
class Request:
    method: str
    now: datetime
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    settings: Settings | None = None
    """The settings from now on, when they changed since the worker last heard them."""


class WorkerFailed(RuntimeError):
    """The worker hit an error that is not the user's (a bug): its one line; the traceback is in the log."""


class WorkerUnavailable(StoreError):
    """The worker process could not be started, or ended twice in one request. A StoreError: what
    was being saved is kept and tried again, as for a busy database."""


def write_message(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(LENGTH.pack(len(data)) + data)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other end has gone."""
    head = _read_exactly(stream, LENGTH.size)
    (size,) = LENGTH.unpack(head)
    if size > MAX_MESSAGE:
        raise EOFError(f"a message of {size} bytes: the pipe is broken")
    return pickle.loads(_read_exactly(stream, size))


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def reply_for(exc: BaseException) -> tuple[str, str, bool] | tuple[str, str]:
    """The reply that carries an exception raised by a request."""
    if isinstance(exc, UserError):
        return "refused", str(exc), isinstance(exc, StoreError)
    return "failed", " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


def result_of(reply: tuple[Any, ...]) -> Any:
    """The value of a reply, or its exception raised here."""
    if reply[0] == "ok":
        return reply[1]
    if reply[0] == "refused":
        raise (StoreError if reply[2] else UserError)(reply[1])
    raise WorkerFailed(str(reply[1]))
