"""`schedule`, `doctor`'s notification check and `start` without a tray, as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.desktop import Desktop, desktop
from tests.processes import PinnedClock

__all__ = ["desktop"]


def test_schedule_json_shape(cli: Cli) -> None:
    data = cli.ok("schedule", "--from", "2026-11-24T00:00", "--days", "1", "--json").json()
    assert isinstance(data, dict)
    assert set(data) == {"from", "to", "timezone", "prompts", "held", "calendar_problem"}
    assert data["held"] == []  # no agent runs: nothing is held
    assert data["calendar_problem"] is None  # no calendar set
    assert data["from"] == "2026-11-23T23:00:00+00:00" and data["to"] == "2026-11-24T23:00:00+00:00"
    assert data["timezone"] == "Europe/Berlin"
    prompts = data["prompts"]
    assert set(prompts[0]) == {"kind", "context", "due", "local", "title", "run_id", "note", "held_by"}
    assert prompts[0] == {
        "kind": "drills", "context": None, "due": "2026-11-24T06:30:00+00:00",
        "local": "2026-11-24T07:30:00+01:00", "title": "Time for today's alignment drills",
        "run_id": None, "note": None, "held_by": None,
    }
    kinds = [(p["kind"], p["context"]) for p in prompts]
    assert kinds.count(("checkin", "desk")) == 11 and kinds.count(("checkin", "car")) == 2
    assert ("circuit", None) in kinds  # a Tuesday


def test_schedule_text_and_default_from_now(cli: Cli) -> None:
    out = cli.ok("schedule").out  # the pinned clock: Wednesday 25 Nov 12:00 Berlin
    assert out.splitlines()[0] == "Wednesday 25 November 2026"
    assert "  12:45  checkin  desk  Posture check: how are you sitting?" in out
    lines = out.splitlines()
    assert lines[1].startswith("  12:00  checkin  desk")  # [now, now + 1 day): includes now
    thursday = lines[lines.index("Thursday 26 November 2026") + 1:]
    assert thursday[-1].startswith("  11:15  checkin  desk")  # ... and stops before Thursday 12:00


def test_schedule_shows_a_logged_runs_soreness_prompt(cli: Cli) -> None:
    cli.ok("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-25T10:00")
    data = cli.ok("schedule", "--json").json()
    sore = [p for p in data["prompts"] if p["kind"] == "soreness"]  # type: ignore[index]
    assert [(p["local"], p["note"]) for p in sore] == [
        ("2026-11-25T12:50:00+01:00", "after the run"), ("2026-11-26T08:00:00+01:00", "next morning"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--days", "0"), "--days 0 is out of range (1 to 60)"),
        (("--days", "61"), "--days 61 is out of range (1 to 60)"),
        (("--from", "tomorrow"), "--from 'tomorrow' is not an ISO 8601 time"),
        (("--from", "2026-03-29T02:30"), "does not exist in Europe/Berlin"),
    ],
)
def test_schedule_bad_input_one_line_nothing_written(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli.ok("checkin", "upright")
    before = cli.db_dump()
    result = cli("schedule", *args)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert cli.db_dump() == before


def test_doctor_says_how_to_get_notifications(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no bus socket there
    result = cli("doctor", "--json")
    checks = {c["check"]: c for c in result.json()["checks"]}  # type: ignore[index]
    assert checks["notifications"]["ok"] is False
    assert "no session D-Bus" in checks["notifications"]["detail"]
    assert "dbus" in checks["notifications"]["fix"]
    assert checks["agent"]["detail"].startswith("no agent running")
    assert result.code == 1


@pytest.mark.desktop
def test_doctor_sees_the_notification_daemon(desktop: Desktop, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    checks = {c["check"]: c for c in cli("doctor", "--json").json()["checks"]}  # type: ignore[index]
    assert checks["notifications"]["ok"] is True
    assert "a notification daemon is running" in checks["notifications"]["detail"]


def test_doctor_names_the_missing_daemon(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1"],
        capture_output=True, text=True,
    ) if _has("dbus-daemon") else None
    if bus is None or bus.returncode != 0:
        pytest.skip("dbus-daemon is not installed (scripts/test.sh installs it as root)")
    address, pid = bus.stdout.split("\n")[:2]
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address.strip())
        checks = {c["check"]: c for c in cli("doctor", "--json").json()["checks"]}  # type: ignore[index]
        assert checks["notifications"]["ok"] is False
        assert "no notification daemon" in checks["notifications"]["detail"]
        assert "apt install dunst" in checks["notifications"]["fix"]
    finally:
        os.kill(int(pid), 15)


def _has(program: str) -> bool:
    import shutil

    return shutil.which(program) is not None


def test_start_without_tray_says_so_and_runs_headless(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    env = PinnedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)).env(TZ="Europe/Berlin")
    env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture_agent", "--home", str(home), "start"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert "running without a tray" in proc.stdout.readline()
        import importlib.util

        if importlib.util.find_spec("posture_agent.app") is not None:
            assert "no graphical desktop here (DISPLAY is not set)" in proc.stderr.readline()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
