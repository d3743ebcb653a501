"""The session D-Bus through jeepney (pure Python, nothing compiled), the one D-Bus library of the
resident agent on Linux: notifications (`agent/freedesktop.py`), the tray's StatusNotifierItem
(`ui/sni.py`) and the question "is a tray host on the bus?" (`ui/tray_backend.py`).

Each user opens a connection of its own with `open_router()`: jeepney's router runs one receiver
thread, blocked on the socket, that hands replies to the threads waiting for them and every other
matching message to a `Handoff` at once (no polling, no event loop). What a `Handoff` runs is on
that receiver thread: it must return quickly and never wait for a reply on the same connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

try:  # a Linux-only dependency; elsewhere `AVAILABLE` is False and nothing here is called
    from jeepney import (
        DBusAddress,
        HeaderFields,
        MatchRule,
        MessageFlag,
        message_bus,
        new_error,
        new_method_call,
        new_method_return,
        new_signal,
    )
    from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection
    from jeepney.wrappers import unwrap_msg

    AVAILABLE = True
except ImportError:  # pragma: no cover - only off Linux
    AVAILABLE = False

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.DBus"
CALL_TIMEOUT_S = 2.0

__all__ = [
    "AVAILABLE", "CALL_TIMEOUT_S", "DBusAddress", "Handoff", "HeaderFields", "MatchRule", "MessageFlag", "Proxy",
    "address_known", "bus_proxy", "message_bus", "name_has_owner", "new_error", "new_method_call",
    "new_method_return", "new_signal", "open_router", "unwrap_msg",
]


class Handoff:
    """Stands in for the queue jeepney's router puts matching messages in: each is handed to
    `handle` at once, on the receiver thread, so no thread of ours waits on a queue."""

    def __init__(self, handle: Callable[[Any], None]) -> None:
        self.handle = handle

    def put_nowait(self, message: Any) -> None:
        try:
            self.handle(message)
        except Exception:  # a failing handler must not end the receiver thread
            log.exception("handling a D-Bus message failed")


def address_known(environ: Mapping[str, str]) -> bool:
    """A session bus to ask: the environment names one, or the user's systemd bus socket exists."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    return bool(environ.get("DBUS_SESSION_BUS_ADDRESS")) or bool(runtime and Path(runtime, "bus").exists())


def open_router(on_end: Callable[[], object] | None = None, bus: str = "SESSION") -> Any:
    """A new connection to the session bus (or the bus at address `bus`) with its receiver thread;
    `on_end()` is called on that thread when it stops reading (the bus went away, or the router was
    closed). Raises OSError, ValueError or jeepney's errors when the bus cannot be reached."""
    conn = open_dbus_connection(bus=bus)
    try:
        return _Router(conn, on_end)
    except Exception:
        conn.close()
        raise


def bus_proxy(router: Any) -> Any:
    """The bus daemon's own methods (RequestName, AddMatch, NameHasOwner…) on `router`."""
    return Proxy(message_bus, router, timeout=CALL_TIMEOUT_S)


def name_has_owner(name: str) -> bool:
    """Whether `name` has an owner on the session bus now; False when the bus cannot be asked."""
    if not AVAILABLE:
        return False
    try:
        router = open_router()
    except Exception as exc:  # no address, refused, a bus that does not answer
        log.info("session bus not asked for %s: %s: %s", name, type(exc).__name__, exc)
        return False
    try:
        return bool(bus_proxy(router).NameHasOwner(name)[0])
    except Exception as exc:
        log.info("session bus did not say who owns %s: %s: %s", name, type(exc).__name__, exc)
        return False
    finally:
        router.close()
        router.conn.close()


if AVAILABLE:

    class _Router(DBusRouter):  # type: ignore[misc]
        """jeepney's router, telling `on_end` when its receiver thread stops (its `_receiver`
        otherwise ends silently, and a server on this connection would be gone unnoticed)."""

        def __init__(self, conn: Any, on_end: Callable[[], object] | None) -> None:
            self._on_end = on_end  # before the receiver thread starts in DBusRouter.__init__
            super().__init__(conn)

        def _receiver(self) -> None:
            try:
                super()._receiver()
            except Exception as exc:  # the socket closed under it: the bus went away
                log.info("the session bus connection ended: %s: %s", type(exc).__name__, exc)
            finally:
                if self._on_end is not None:
                    self._on_end()
