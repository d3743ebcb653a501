"""Stop and reload signals, acted on by a thread of their own, never inside the signal handler.

A Python signal handler runs on the main thread between two bytecodes, possibly while that thread
holds the lock of the Event or Queue it is about to wait on. A handler that sets that Event or puts
on that Queue then waits for a lock its own thread holds, forever (seen: `start` ignoring a SIGTERM
sent just as it began to wait). So the handlers do nothing: `signal.set_wakeup_fd` writes each
signal's number to a socket at C level, and the "signals" thread, blocked on that socket (no timer,
no wake-up while idle), calls the callbacks in ordinary thread context.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT"))
RELOAD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP",) if hasattr(signal, name))


def route_signals(on_stop: Callable[[], object], on_reload: Callable[[], object] | None = None) -> None:
    """SIGTERM and SIGINT call `on_stop`, SIGHUP `on_reload`, on the "signals" thread.

    Must be called from the main thread (Python's rule for signal handlers). Callbacks that fail
    are logged; the thread goes on serving the next signal."""
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # set_wakeup_fd's requirement: a full buffer must not block the handler
    actions: dict[int, Callable[[], object]] = dict.fromkeys(STOP_SIGNALS, on_stop)
    if on_reload is not None:
        actions.update(dict.fromkeys(RELOAD_SIGNALS, on_reload))
    for signum in actions:
        signal.signal(signum, _nothing)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def serve() -> None:
        while data := reader.recv(64):
            for signum in data:
                action = actions.get(signum)
                if action is None:
                    continue
                log.info("signal %d", signum)
                try:
                    action()
                except Exception:
                    log.exception("handling signal %d failed", signum)

    # the sockets live as long as the thread, which lives as long as the process
    threading.Thread(target=serve, name="signals", daemon=True).start()
    _keep.append((reader, writer))


_keep: list[tuple[socket.socket, socket.socket]] = []
"""The socket pairs in use (a closed writer would stop the wake-ups)."""


def _nothing(_signum: int, _frame: object) -> None:
    """The Python-level handler: the wake-up fd has already carried the signal to the thread."""
