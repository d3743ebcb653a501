"""The real engine end to end: two Syncthing instances on 127.0.0.1 share the folder, two agents
(`start --no-tray`) run their housekeeping minute, and a check-in recorded on one computer appears
in the other's `report --json`. Up to about two housekeeping minutes of real time."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
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


def _until(check: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.5)


def test_a_planted_symlink_crosses_syncthing_and_is_never_followed(
    engines: tuple[syncthing.Instance, syncthing.Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whoever reaches one computer's copy of the folder plants symlinks there: one at a segment's
    name in the other computer's own device folder, pointing at a stand-in `~/.bashrc`, and a
    device folder that points outside. Syncthing carries them to the other computer as symlinks;
    neither computer writes through or reads through them, and the records still cross."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    env = PinnedClock(NOON).env()
    first, second = engines
    homes = []
    for name, engine in (("work", first), ("sofa", second)):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(QUIET, encoding="utf-8")
        assert run_cli(home, "sync", "setup", str(engine.folder), env=env).returncode == 0
        homes.append(home)
    work, sofa = homes
    sofa_id = json.loads(run_cli(sofa, "--json", "sync", "status", env=env).stdout)["device"]["id"]
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("echo hello\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "seg-000001.jsonl").write_text("not for reading\n", encoding="utf-8")
    planted = first.folder / "posture-agent" / sofa_id / "seg-000002.jsonl"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(bashrc)
    (first.folder / "posture-agent" / "0123456789ab").symlink_to(outside)
    arrived = second.folder / planted.relative_to(first.folder)
    _until(lambda: arrived.is_symlink() and (second.folder / "posture-agent" / "0123456789ab").is_symlink(),
           "Syncthing did not carry the planted symlinks across")

    assert run_cli(sofa, "checkin", "standing", env=env).returncode == 0
    done = run_cli(sofa, "--json", "sync", "now", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["written"] == 1
    assert bashrc.read_text(encoding="utf-8") == "echo hello\n"
    assert not arrived.is_symlink()  # the planted entry in its own folder is gone, not written through
    segment = planted.with_name("seg-000001.jsonl")
    _until(lambda: not planted.is_symlink() and segment.is_file(), "the sofa's segment did not reach work")
    merged = run_cli(work, "--json", "sync", "now", env=env)
    assert merged.returncode == 0, merged.stderr
    result = json.loads(merged.stdout)
    assert result["merged"] == 1
    assert {"device": "0123456789ab", "file": "", "reason": "a symbolic link: not followed"} in result["unusable"]
    assert bashrc.read_text(encoding="utf-8") == "echo hello\n"
    assert sorted(p.name for p in outside.iterdir()) == ["seg-000001.jsonl"]
