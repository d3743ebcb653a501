"""The real engine end to end: two Syncthing instances on 127.0.0.1 share the folder, two agents
(`start --no-tray`) run their housekeeping minute, and a check-in recorded on one computer appears
in the other's `report --json`. Up to about two housekeeping minutes of real time."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import syncthing
from tests.processes import PinnedClock, RunningAgent, run_cli
from tests.test_agent_process import NOON, QUIET

BERLIN = ZoneInfo("Europe/Berlin")
WAIT_SECONDS = 240  # two housekeeping minutes (write, then merge), the transfer, and a margin


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[syncthing.Instance, syncthing.Instance]]:
    reason = syncthing.missing()
    if reason:
        pytest.skip(reason)
    first, second = syncthing.pair(tmp_path)
    try:
        first.start(tmp_path / "syncthing-a.log")
        second.start(tmp_path / "syncthing-b.log")
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_a_checkin_at_work_shows_in_the_sofa_report(
    engines: tuple[syncthing.Instance, syncthing.Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    clock = PinnedClock(NOON)  # both agents on one pinned noon: nothing else falls due meanwhile
    env = clock.env()

    def cli(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return run_cli(home, *args, env=env)
    homes = []
    for name, engine in zip(("work", "sofa"), engines, strict=True):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(QUIET, encoding="utf-8")
        setup = cli(home, "sync", "setup", str(engine.folder), env=env)
        assert setup.returncode == 0, setup.stderr
        homes.append(home)
    work, sofa = homes
    agents = [RunningAgent(home, env=env) for home in homes]
    try:
        week = clock.now().astimezone(BERLIN).strftime("%G-W%V")
        saved = cli(work, "checkin", "standing", env=env)
        assert saved.returncode == 0, saved.stderr
        deadline = time.monotonic() + WAIT_SECONDS
        standing = 0
        while time.monotonic() < deadline and not standing:
            time.sleep(3)
            report = cli(sofa, "--json", "report", "--week", week, env=env)
            assert report.returncode == 0, report.stderr
            standing = json.loads(report.stdout)["checkins"]["standing"]
        assert standing == 1, f"the check-in did not reach the sofa within {WAIT_SECONDS} s"
        status = json.loads(cli(sofa, "--json", "sync", "status", env=env).stdout)
        assert [d["label"].split(":")[0] for d in status["devices"]] == [os.uname().nodename[:40]]
        assert status["problem"] is None and status["unusable"] == []
    finally:
        codes = [agent.stop()[0] for agent in agents]
    assert codes == [0, 0]
