"""The control socket admits only the agent's own user, and one silent client holds up no one."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture_agent.agent import control
from posture_agent.agent.control import ControlServer, peer_uid, send
from posture_agent.errors import UserError

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets only (Windows uses a file)")


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return {"ok": True, "cmd": request.get("cmd")}


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@contextlib.contextmanager
def serving(runtime: Path, handler: Recorder, **kw: Any) -> Iterator[ControlServer]:
    server = ControlServer(runtime, handler, **kw)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_peer_of_a_unix_socket_is_this_user() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert peer_uid(a) in (os.getuid(), None)
        if hasattr(socket, "SO_PEERCRED"):
            assert peer_uid(a) == os.getuid()


def test_a_request_from_another_user_is_refused(runtime: Path, recorder: Recorder) -> None:
    with serving(runtime, recorder, peer=lambda _conn: os.getuid() + 1) as server:
        with pytest.raises(UserError):  # the refusal, or the pipe it closed before the request was written
            send(runtime, {"cmd": "pause", "for": "1h"})
        quiet = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        quiet.settimeout(10)
        with quiet:
            quiet.connect(server.address)
            assert b"this agent belongs to another user" in quiet.recv(4096)
    assert recorder.requests == [], "nothing of the request was acted on"


def test_a_request_from_this_user_is_served(runtime: Path, recorder: Recorder) -> None:
    with serving(runtime, recorder):
        assert send(runtime, {"cmd": "status"})["cmd"] == "status"


def test_a_silent_client_does_not_delay_a_pause(runtime: Path, recorder: Recorder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "REQUEST_DEADLINE_S", 30.0)  # the silent one stays connected throughout
    with serving(runtime, recorder) as server:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(server.address)
        try:
            reply = send(runtime, {"cmd": "pause", "for": "30m"}, timeout=10)
            assert reply["cmd"] == "pause" and recorder.requests == [{"cmd": "pause", "for": "30m"}]
            silent.setblocking(False)
            with pytest.raises(BlockingIOError):
                silent.recv(1)  # still connected, unanswered: the pause did not wait for it
        finally:
            silent.close()


def test_a_silent_client_is_dropped_at_the_deadline(runtime: Path, recorder: Recorder,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "REQUEST_DEADLINE_S", 0.3)
    with serving(runtime, recorder) as server:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.settimeout(10)
        silent.connect(server.address)
        with silent:
            assert silent.recv(1) == b"", "closed without an answer"
        assert send(runtime, {"cmd": "status"})["ok"]
    assert recorder.requests == [{"cmd": "status"}]
