"""How `posture-agent pause|resume|stop` reach the running agent, and what each request means (`answer_request`).

POSIX: a Unix socket in the runtime folder (or, when that path is too long for a socket, an abstract
Linux socket named after it, which has no file permissions); one JSON line in, one JSON line out.
Every connection's peer is checked (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS and the BSDs): one
from another user is refused before anything is read. Each admitted connection is served on a
short-lived thread of its own with a deadline, so a client that connects and sends nothing holds
up no one else. The listening thread blocks in accept(): it never wakes the process by itself.
Windows (CPython has no AF_UNIX there): the client leaves each request as a file of its own in
`requests/` in the runtime folder (written to a temporary name, then renamed, so a half-written one
is never read, and two never overwrite each other); the agent runs them in order on its
once-a-minute housekeeping (so the answer there is "requested", not the new state). A request that
fails is kept as `.failed`, never dropped: it may be a user's answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posture_agent.domain.pause import PAUSE_CHOICES
from posture_agent.errors import UserError

log = logging.getLogger(__name__)

REQUEST_DIR = "requests"
"""Windows: the folder of pending requests in the runtime folder, one file each."""


def unix_sockets() -> bool:
    """Whether this Python has Unix sockets (not on Windows: requests then go as files)."""
    return hasattr(socket, "AF_UNIX")
MAX_SOCKET_PATH = 100
REQUEST_DEADLINE_S = 2.0
"""A connection must deliver its request line within this; then it is dropped."""
MAX_CONNECTIONS = 8
"""Connections served at once; more wait in the listen backlog."""
Handler = Callable[[dict[str, Any]], dict[str, Any]]
PeerUid = Callable[[socket.socket], int | None]
LOCAL_PEERCRED = 0x001
"""macOS / BSD: getsockopt(SOL_LOCAL=0, LOCAL_PEERCRED) gives a `struct xucred`."""


def peer_uid(conn: socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket; None when this system cannot say."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", raw)[1])
    if sys.platform == "darwin" or "bsd" in sys.platform:  # struct xucred {version, uid, ngroups, groups[16]}
        raw = conn.getsockopt(0, LOCAL_PEERCRED, struct.calcsize("2Ih16I"))
        return int(struct.unpack_from("2I", raw)[1])
    return None


class NotRunning(UserError):
    exit_code = 1

    def __init__(self) -> None:
        super().__init__("no agent is running for this home: start it with `posture-agent start`")


def answer_request(
    request: dict[str, Any], *, pause_for: Callable[[str], object], resume: Callable[[], object],
    reload: Callable[[], object], status: Callable[[], dict[str, Any]],
    stop: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """What a request means: pause (one of the pause choices), resume, reload, status or stop; the
    answer is the agent's status after it (for stop: that it is stopping), or why the request was
    refused."""
    command = request.get("cmd")
    if command == "stop" and stop is not None:
        stop()
        return {"ok": True, "pid": os.getpid(), "stopping": True}
    if command == "pause":
        choice = str(request.get("for", ""))
        if choice not in PAUSE_CHOICES:
            return {"ok": False, "error": f"pause {choice!r} is not one of: {', '.join(PAUSE_CHOICES)}"}
        pause_for(choice)
    elif command == "resume":
        resume()
    elif command == "reload":
        reload()
    elif command != "status":
        return {"ok": False, "error": f"unknown request {command!r}"}
    return {"ok": True, "pid": os.getpid(), **status()}


def socket_address(runtime_dir: Path) -> str:
    path = str(runtime_dir / "agent.sock")
    if len(path.encode()) <= MAX_SOCKET_PATH or not sys.platform.startswith("linux"):
        return path
    digest = hashlib.sha1(str(runtime_dir).encode()).hexdigest()[:16]
    return f"\0posture-agent-{digest}"


class ControlServer:
    def __init__(self, runtime_dir: Path, handler: Handler, peer: PeerUid = peer_uid) -> None:
        self.runtime_dir = runtime_dir
        self.handler = handler
        self.peer = peer
        self.address = socket_address(runtime_dir)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def start(self) -> None:
        if not unix_sockets():
            return  # Windows: requests come as files, see poll_requests
        if not self.address.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)  # left by a killed agent; we hold the instance lock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.address)
        if not self.address.startswith("\0"):
            os.chmod(self.address, 0o600)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sock = self._sock
        while sock is not None and self._sock is sock:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed by stop()
            if not self._admitted(conn):
                conn.close()
                continue
            self._slots.acquire()
            threading.Thread(target=self._serve_one, args=(conn,), name="control-client", daemon=True).start()

    def _admitted(self, conn: socket.socket) -> bool:
        try:
            uid = self.peer(conn)
        except OSError as exc:
            log.warning("control connection refused: its peer cannot be checked (%s)", exc)
            return False
        if uid is not None and uid != os.getuid():
            log.warning("control connection from uid %d refused (the agent runs as uid %d)", uid, os.getuid())
            with contextlib.suppress(OSError):
                conn.sendall(b'{"ok": false, "error": "refused: this agent belongs to another user"}\n')
            return False
        return True

    def _serve_one(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = self._read_request(conn)
                if request is None:
                    return  # silent or too slow: dropped without an answer
                reply = self.handler(request)  # the agent's own locks keep its state consistent
            except Exception as exc:  # a bad request must not stop the agent
                log.exception("control request failed")
                reply = {"ok": False, "error": str(exc)}
            finally:
                self._slots.release()
            with contextlib.suppress(OSError):
                conn.sendall((json.dumps(reply, default=str) + "\n").encode("utf-8"))

    @staticmethod
    def _read_request(conn: socket.socket) -> dict[str, Any] | None:
        """One JSON line, read within REQUEST_DEADLINE_S in all; None when it does not come."""
        deadline = time.monotonic() + REQUEST_DEADLINE_S
        data = b""
        while not data.endswith(b"\n") and len(data) < 65536:
            left = deadline - time.monotonic()
            if left <= 0:
                log.info("control connection sent no request within %.0f s: dropped", REQUEST_DEADLINE_S)
                return None
            conn.settimeout(left)
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
        request: dict[str, Any] = json.loads(data.decode("utf-8") or "{}")
        return request

    def poll_requests(self) -> None:
        """The Windows fallback: run the requests left as files, oldest first, each then removed."""
        folder = self.runtime_dir / REQUEST_DIR
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                request = json.loads(path.read_text(encoding="utf-8"))
                self.handler(request)
            except Exception:
                log.exception("control request %s failed; kept as .failed", path.name)
                with contextlib.suppress(OSError):
                    path.replace(path.with_suffix(".failed"))
                continue
            with contextlib.suppress(OSError):
                path.unlink()

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            if not self.address.startswith("\0"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.address)


def leave_request(runtime_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Windows: the request as a file of its own, for the agent's next housekeeping minute."""
    folder = runtime_dir / REQUEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}"
    partial = folder / f"{name}.part"
    partial.write_text(json.dumps(request), encoding="utf-8")
    os.replace(partial, folder / f"{name}.json")
    return {"ok": True, "requested": True}


def send(runtime_dir: Path, request: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """Send one request to the running agent and return its reply."""
    if not unix_sockets():
        return leave_request(runtime_dir, request)
    address = socket_address(runtime_dir)
    if not address.startswith("\0") and not os.path.exists(address):
        raise NotRunning()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionRefusedError, FileNotFoundError):
        raise NotRunning() from None
    except OSError as exc:
        raise UserError(f"the running agent did not answer ({exc})") from None
    finally:
        sock.close()
    reply: dict[str, Any] = json.loads(data.decode("utf-8") or "{}")
    if not reply.get("ok", False):
        raise UserError(f"the agent refused: {reply.get('error', 'unknown error')}")
    return reply
