"""How `posture-agent pause|resume|stop` reach the running agent, and what each request means (`answer_request`).

POSIX: a Unix socket in a folder only its user can enter: the runtime folder (`data/run`, 0700), or,
when that path is too long for a socket address (about 100 bytes), a folder of its own made with a
random name (mkdtemp: 0700, created exclusively) in $XDG_RUNTIME_DIR or the temporary folder, whose
path the agent leaves in the runtime folder (`socket-path`) for its clients. No abstract socket: its
name would be predictable and it has no file permissions, so another account could take it first.
One JSON line in, one JSON line out. Both ends check the other's user (SO_PEERCRED on Linux,
LOCAL_PEERCRED on macOS and the BSDs): the agent refuses a client of another user before reading
anything, and a client refuses an agent of another user before sending anything. Each admitted
connection is served on a short-lived thread of its own with a deadline, so a client that connects
and sends nothing holds up no one else. The listening thread blocks in accept(): it never wakes the
process by itself.
Windows (CPython has no AF_UNIX there): the client leaves each request as a file of its own in
`requests/` in the runtime folder (written to a temporary name, then renamed, so a half-written one
is never read, and two never overwrite each other); the agent runs them in order on its
once-a-minute housekeeping (so the answer there is "requested", not the new state). A request that
fails is kept as `.failed`, never dropped: it may be a user's answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posture_agent.domain.pause import PAUSE_CHOICES
from posture_agent.errors import UserError
from posture_agent.filenames import printable
from posture_agent.outputs import write_atomically

log = logging.getLogger(__name__)

REQUEST_DIR = "requests"
"""Windows: the folder of pending requests in the runtime folder, one file each."""


def unix_sockets() -> bool:
    """Whether this Python has Unix sockets (not on Windows: requests then go as files)."""
    return hasattr(socket, "AF_UNIX")


MAX_SOCKET_PATH = 100
"""Bytes of a socket path that every platform takes (sun_path is 108 on Linux, 104 on macOS)."""
SOCKET_NAME = "agent.sock"
WHERE_FILE = "socket-path"
"""In the runtime folder: where the socket is when it lives in a private folder of its own."""
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


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def socket_address(runtime_dir: Path) -> Path | None:
    """Where the agent of this runtime folder listens: where it said it does (`socket-path`), else in
    the folder itself; None when neither can be (a path too long and no agent has said)."""
    try:
        with (runtime_dir / WHERE_FILE).open("rb") as f:
            where = Path(os.fsdecode(f.read(4096).strip()))
        return where if where.name == SOCKET_NAME and where.is_absolute() else None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    path = runtime_dir / SOCKET_NAME
    return path if _fits(path) else None


def _private(folder: Path, tighten: bool = False) -> bool:
    """Whether `folder` is a folder (not a link) of this user's that no one else can enter; with
    `tighten`, one of this user's that others could enter is made 0700 first."""
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return False
        if st.st_mode & 0o077 and tighten:
            os.chmod(folder, 0o700)
            return True
    except OSError:
        return False
    return st.st_mode & 0o077 == 0


def _private_folders() -> list[Path]:
    """Where a socket folder of our own may go, best first: the user's runtime folder (0700, the
    user's, by the XDG rules; checked), the temporary folder, /tmp."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    found = [Path(xdg)] if os.path.isabs(xdg) and _private(Path(xdg)) else []
    return [*found, Path(tempfile.gettempdir()), Path("/tmp")]


def make_private_socket_folder() -> Path:
    """A new folder with a random name that only this user can enter, short enough for a socket."""
    for parent in _private_folders():
        if _fits(parent / "posture-agent-XXXXXXXX" / SOCKET_NAME):
            with contextlib.suppress(OSError):
                return Path(tempfile.mkdtemp(prefix="posture-agent-", dir=parent))
    raise UserError("no folder for the agent's control socket: set XDG_RUNTIME_DIR or TMPDIR to a short path")


def _remove_private_folder(socket_path: Path) -> None:
    """The socket and its folder, if the folder is one of ours (a private folder of this user)."""
    folder = socket_path.parent
    if not folder.name.startswith("posture-agent-") or not _private(folder):
        return
    with contextlib.suppress(OSError):
        os.unlink(socket_path)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


class ControlServer:
    def __init__(self, runtime_dir: Path, handler: Handler, peer: PeerUid = peer_uid) -> None:
        self.runtime_dir = runtime_dir
        self.handler = handler
        self.peer = peer
        self.path = runtime_dir / SOCKET_NAME
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    @property
    def address(self) -> str:
        """The socket's path, as `connect` takes it."""
        return os.fsdecode(self.path)

    def start(self) -> None:
        if not unix_sockets():
            return  # Windows: requests come as files, see poll_requests
        where = self.runtime_dir / WHERE_FILE
        left = socket_address(self.runtime_dir)  # a killed agent's; we hold the instance lock
        if left is not None and left.parent != self.runtime_dir:
            _remove_private_folder(left)
        where.unlink(missing_ok=True)
        self.path = self.runtime_dir / SOCKET_NAME
        if not (_fits(self.path) and _private(self.runtime_dir, tighten=True)):
            self.path = make_private_socket_folder() / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.address)
        os.chmod(self.path, 0o600)
        sock.listen(16)
        if self.path.parent != self.runtime_dir:
            write_atomically(where, self.address + "\n", prefix=".socket-")
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
            if self.path.parent == self.runtime_dir:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            else:
                (self.runtime_dir / WHERE_FILE).unlink(missing_ok=True)
                _remove_private_folder(self.path)


def leave_request(runtime_dir: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Windows: the request as a file of its own, for the agent's next housekeeping minute."""
    folder = runtime_dir / REQUEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}"
    partial = folder / f"{name}.part"
    partial.write_text(json.dumps(request), encoding="utf-8")
    os.replace(partial, folder / f"{name}.json")
    return {"ok": True, "requested": True}


def _refuse_another_users_agent(sock: socket.socket, address: Path) -> None:
    """Whoever listens at `address` must run as this user: a request can carry an answer, and a
    reply from someone else would be believed."""
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise UserError(
            f"the control socket {printable(str(address))} is held by another user (uid {uid}), not this user's agent: "
            "nothing was sent; stop that process or use a --home only you can write to"
        )


def send(runtime_dir: Path, request: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """Send one request to the running agent and return its reply."""
    if not unix_sockets():
        return leave_request(runtime_dir, request)
    address = socket_address(runtime_dir)
    if address is None or not os.path.exists(address):
        raise NotRunning()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(address))
        _refuse_another_users_agent(sock, address)
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
