"""One typo in the config file never stops a record: the recording commands use the last valid
settings (a copy kept whenever the file was read without a mistake), else the defaults, and say in
one line which file and line is wrong; `config check` and `doctor` name it. Real processes on a
pinned clock; the file is never changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.processes import PinnedClock, rows, run_cli

GOOD = '[general]\ntimezone = "America/New_York"\n\n[drills]\ndaily = ["chin-tuck"]\n'
BROKEN = '[general]\ntimezone = "America/New_York\n\n[drills]\ndaily = ["chin-tuck"]\n'  # line 2: no closing quote


@pytest.fixture
def env() -> dict[str, str]:
    return PinnedClock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC)).env(TZ="Europe/Berlin")


def test_records_are_kept_with_the_last_valid_settings_and_the_line_is_named(tmp_path: Path,
                                                                            env: dict[str, str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(GOOD, encoding="utf-8")
    assert run_cli(tmp_path, "drills", env=env).returncode == 0
    assert (tmp_path / "config.last-valid.toml").read_text(encoding="utf-8") == GOOD
    config.write_text(BROKEN, encoding="utf-8")
    said = f"posture-agent: config error in {config}, line 2: (syntax):"
    checkin = run_cli(tmp_path, "--json", "checkin", "slouched", "--at", "2026-11-25T09:00", env=env)
    assert checkin.returncode == 0, checkin.stderr
    [line] = checkin.stderr.splitlines()
    assert line.startswith(said) and line.endswith(
        "; using the last valid settings until it is fixed (the file was not changed)"), line
    assert json.loads(checkin.stdout)["local"] == "2026-11-25T09:00:00-05:00", "New York, as last valid"
    assert rows(tmp_path, "select posture from checkins") == [("slouched",)]
    drills = run_cli(tmp_path, "--json", "drills", env=env)
    assert drills.returncode == 0 and [d["name"] for d in json.loads(drills.stdout)["drills"]] == ["chin-tuck"]
    for args in (("advice",), ("export",), ("run", "add", "--distance-km", "5", "--duration", "30:00"),
                 ("soreness", "--upper-back", "2"), ("drill", "done", "chin-tuck"), ("circuit", "done")):
        done = run_cli(tmp_path, *args, env=env)
        assert done.returncode == 0 and done.stderr.startswith(said), (args, done.stderr)
    check = run_cli(tmp_path, "config", "check", env=env)
    assert check.returncode == 2 and check.stderr.startswith(said)
    doctor = run_cli(tmp_path, "--json", "doctor", env=env)
    [config_check] = [c for c in json.loads(doctor.stdout)["checks"] if c["check"] == "config"]
    assert config_check["ok"] is False and f"{config}, line 2" in config_check["detail"]
    assert "the last valid settings" in config_check["detail"] and "config check" in config_check["fix"]
    assert config.read_text(encoding="utf-8") == BROKEN, "the user's file is never rewritten"
    assert (tmp_path / "config.last-valid.toml").read_text(encoding="utf-8") == GOOD


def test_without_a_valid_copy_the_defaults_are_used(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "config.toml").write_text('[desk]\nevery_minutes = "often"\n', encoding="utf-8")
    done = run_cli(tmp_path, "checkin", "upright", env=env)
    assert done.returncode == 0, done.stderr
    assert "line 2: desk.every_minutes" in done.stderr and "using the default settings" in done.stderr
    assert rows(tmp_path, "select posture from checkins") == [("upright",)]
    assert not (tmp_path / "config.last-valid.toml").exists()
