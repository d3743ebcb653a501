"""The control channel where Python has no Unix sockets (Windows): each request is a file of its own,
run in order on the agent's housekeeping minute, and none is lost or overwritten. Run here with Unix
sockets switched off, through the same functions the window processes and the agent call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from posture_agent.agent import control
from posture_agent.agent.control import ControlServer, send


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(control, "unix_sockets", lambda: False)
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return folder


def test_two_answers_within_a_minute_are_both_run_in_order(runtime: Path) -> None:
    """Two drill ticks before the agent's next minute: both reach the agent, first one first."""
    seen: list[dict[str, Any]] = []
    server = ControlServer(runtime, lambda r: seen.append(r) or {"ok": True})
    server.start()  # nothing to listen on: requests come as files
    assert send(runtime, {"cmd": "drill", "name": "chin-tuck"}) == {"ok": True, "requested": True}
    assert send(runtime, {"cmd": "drill", "name": "wall-alignment"}) == {"ok": True, "requested": True}
    server.poll_requests()
    assert [r["name"] for r in seen] == ["chin-tuck", "wall-alignment"]
    assert list((runtime / control.REQUEST_DIR).iterdir()) == []
    server.poll_requests()
    assert len(seen) == 2  # each is run once


def test_a_request_that_fails_is_kept_and_a_half_written_one_is_not_read(runtime: Path) -> None:
    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the database is busy")

    folder = runtime / control.REQUEST_DIR
    send(runtime, {"cmd": "checkin", "posture": "upright"})
    (folder / "99999999999999999999-1-1.part").write_text('{"cmd": "chec')  # a writer killed mid-way
    ControlServer(runtime, refuse).poll_requests()
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == 2 and kept[0].endswith(".failed") and kept[1].endswith(".part")
    assert json.loads((folder / kept[0]).read_text()) == {"cmd": "checkin", "posture": "upright"}
