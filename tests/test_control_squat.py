"""The control socket cannot be taken by another local account: with a --home too long for a socket
path it lives in a private folder with a random name (no predictable abstract name), and each end
checks the other's user. The other account is a real one (`nobody`), its processes started with
`setpriv` as root; without root, setpriv or that account the tests that need it skip saying so."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from posture_agent.agent import control
from posture_agent.agent.control import ControlServer, send, socket_address
from posture_agent.errors import UserError
from posture_agent.paths import Paths
from tests.processes import PinnedClock, RunningAgent, run_cli
from tests.test_agent_process import NOON, QUIET
from tests.test_control import Recorder

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets only (Windows uses a file)")

OTHER_ACCOUNT = os.environ.get("POSTURE_AGENT_TEST_OTHER_ACCOUNT", "nobody")
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
"""The other account cannot enter this user's virtual environment: it runs the system's Python."""

SQUATTER = r"""
import json, os, socket, sys
address = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(address.replace("@", "\0", 1) if address.startswith("@") else address)
if not address.startswith("@"):
    os.chmod(address, 0o777)
sock.listen(4)
sock.settimeout(float(sys.argv[2]))
print("ready", os.getuid(), flush=True)
try:
    while True:
        conn, _ = sock.accept()
        conn.settimeout(2)
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        print("got", json.dumps(data.decode("utf-8", "replace")), flush=True)
        try:
            conn.sendall(b'{"ok": true, "pid": 1, "paused": true}\n')
        except OSError:
            pass
        conn.close()
except socket.timeout:
    pass
"""

CLIENT = r"""
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
try:
    sock.connect(sys.argv[1])
except OSError as exc:
    print("connect", type(exc).__name__)
    sys.exit()
try:
    sock.sendall(b'{"cmd": "pause", "for": "1h"}\n')
except OSError as exc:
    print("send", type(exc).__name__)
print("reply", sock.recv(4096).decode("utf-8", "replace").strip())
"""


def other_account() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as another local account (setpriv)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if SYSTEM_PYTHON is None:
        pytest.skip("no /usr/bin/python3 for the other account to run")
    try:
        account = pwd.getpwnam(OTHER_ACCOUNT)
    except KeyError:
        pytest.skip(f"no local account {OTHER_ACCOUNT!r} (POSTURE_AGENT_TEST_OTHER_ACCOUNT names another)")
    if account.pw_uid == os.getuid():
        pytest.skip(f"{OTHER_ACCOUNT!r} is this test's own account")
    return account


def as_other(account: pwd.struct_passwd, script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
         str(SYSTEM_PYTHON), "-I", "-c", script, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"},
    )


def finished(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def squat(account: pwd.struct_passwd, address: str, seconds: float) -> subprocess.Popen[str]:
    proc = as_other(account, SQUATTER, address, str(seconds))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == f"ready {account.pw_uid}\n", line + (proc.stderr.read() if proc.stderr else "")
    return proc


def old_abstract_name(runtime_dir: Path) -> str:
    """The name earlier versions used for a runtime folder too long for a socket path."""
    return "@posture-agent-" + hashlib.sha1(str(runtime_dir).encode()).hexdigest()[:16]


def abstract_sockets() -> set[str]:
    with open("/proc/net/unix", encoding="utf-8") as f:
        return {fields[7] for fields in (line.split() for line in f) if len(fields) > 7 and fields[7].startswith("@")}


@pytest.fixture
def long_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose `data/run/agent.sock` is longer than any platform's socket path."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    home = tmp_path / ("a home folder with a long name " * 4).strip()
    home.mkdir()
    (home / "config.toml").write_text(QUIET, encoding="utf-8")
    assert len(os.fsencode(Paths.resolve(home).runtime_dir / "agent.sock")) > 108
    return home


@pytest.fixture
def long_server(long_home: Path) -> Iterator[ControlServer]:
    runtime = Paths.resolve(long_home).runtime_dir
    runtime.mkdir(parents=True, mode=0o700)
    server = ControlServer(runtime, Recorder())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_long_home_gets_a_private_socket_folder_not_an_abstract_name(long_server: ControlServer) -> None:
    runtime, path = long_server.runtime_dir, long_server.path
    assert not long_server.address.startswith("\0") and len(os.fsencode(path)) <= control.MAX_SOCKET_PATH
    folder = os.lstat(path.parent)
    assert stat.S_ISDIR(folder.st_mode) and stat.S_IMODE(folder.st_mode) == 0o700
    assert folder.st_uid == os.getuid() and path.parent.name.startswith("posture-agent-")
    assert socket_address(runtime) == path, "the clients find it through the runtime folder"
    assert send(runtime, {"cmd": "status"})["cmd"] == "status"
    if os.path.exists("/proc/net/unix"):
        assert not any("posture-agent" in name for name in abstract_sockets())
    second = ControlServer(runtime, Recorder())  # a later agent of the same home: another random folder
    long_server.stop()
    assert not path.parent.exists() and socket_address(runtime) is None, "removed at stop"
    second.start()
    try:
        assert second.path.parent != path.parent
    finally:
        second.stop()


def test_a_killed_agents_socket_folder_is_removed_by_the_next(long_home: Path) -> None:
    runtime = Paths.resolve(long_home).runtime_dir
    runtime.mkdir(parents=True, mode=0o700)
    killed = ControlServer(runtime, Recorder())
    killed.start()
    left, listening = killed.path, killed._sock
    assert listening is not None
    killed._sock = None
    listening.shutdown(socket.SHUT_RDWR)  # as after SIGKILL: the socket closed, its file and folder left
    listening.close()
    assert left.exists()
    with pytest.raises(UserError, match="no agent is running"):
        send(runtime, {"cmd": "status"})
    nxt = ControlServer(runtime, Recorder())
    nxt.start()
    try:
        assert not left.parent.exists()
        assert send(runtime, {"cmd": "status"})["ok"]
    finally:
        nxt.stop()


def test_the_socket_folder_is_made_under_the_users_runtime_folder_when_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = Path(tempfile.mkdtemp(prefix="xdg-"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
        assert control.make_private_socket_folder().parent == xdg
        xdg.chmod(0o755)  # not private: not used
        elsewhere = control.make_private_socket_folder()
        elsewhere.rmdir()
        assert elsewhere.parent != xdg and stat.S_IMODE(xdg.stat().st_mode) == 0o755
    finally:
        shutil.rmtree(xdg)


def test_another_account_on_the_old_abstract_name_neither_blocks_start_nor_answers(long_home: Path) -> None:
    """The attack: another account binds the name a long home's agent used to take. Now `start`
    works, `pause` reaches the owner's agent, and the squatter hears nothing."""
    account = other_account()
    clock = PinnedClock(NOON)
    runtime = Paths.resolve(long_home).runtime_dir
    squatter = squat(account, old_abstract_name(runtime), 20)
    agent = None
    try:
        agent = RunningAgent(long_home, env=clock.env())
        paused = run_cli(long_home, "--json", "pause", "1h", env=clock.env())
        assert paused.returncode == 0, paused.stderr
        assert json.loads(paused.stdout)["pid"] == agent.proc.pid, "the owner's agent answered"
        where = socket_address(runtime)
        assert where is not None and stat.S_IMODE(os.lstat(where.parent).st_mode) == 0o700
        entered = finished(as_other(account, CLIENT, str(where)))
        assert entered == "connect PermissionError\n", "the other account cannot even reach the socket"
    finally:
        if agent is not None:
            assert agent.stop()[0] == 0
        squatter.kill()
    assert "got" not in finished(squatter), "the squatter was never connected to"


def test_a_socket_held_by_another_account_is_refused_before_sending(tmp_path: Path) -> None:
    """A home in a folder others can write to: another account puts its socket where the agent's
    would be. The client checks who answers and sends nothing."""
    account = other_account()
    shared = Path(tempfile.mkdtemp(prefix="pa-shared-"))
    try:
        shared.chmod(0o1777)
        squatter = squat(account, str(shared / "agent.sock"), 20)
        try:
            with pytest.raises(UserError, match=rf"held by another user \(uid {account.pw_uid}\).*nothing was sent"):
                send(shared, {"cmd": "answer", "prompt": "p", "posture": "upright", "context": "desk"})
        finally:
            squatter.kill()
        assert "got" not in finished(squatter).replace('got ""', ""), "not a byte of the request"
    finally:
        shutil.rmtree(shared)


def test_a_client_of_another_account_is_refused_by_the_agent() -> None:
    """The agent's socket opened up on purpose (folder and socket) so that the other account can
    connect at all: the agent reads nothing from it and says why."""
    account = other_account()
    runtime = Path(tempfile.mkdtemp(prefix="pa-run-"))
    recorder = Recorder()
    server = ControlServer(runtime, recorder)
    server.start()
    try:
        runtime.chmod(0o755)
        server.path.chmod(0o777)
        out = finished(as_other(account, CLIENT, server.address))
        assert "this agent belongs to another user" in out, out
        assert recorder.requests == []
    finally:
        server.stop()
        shutil.rmtree(runtime)
