"""The config file: commented defaults on first run, typed validation, errors that name file, line and key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from posture_agent.config import ConfigError, Settings, ensure_config, load_settings
from tests.conftest import Cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_first_run_writes_commented_defaults_that_load_as_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    ensure_config(path)
    text = path.read_text()
    assert "# every_minutes = 45" in text and "[desk]" in text
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_settings(path) == Settings()


def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path, "[desk]\nevery_minutes = 30\n")
    ensure_config(path)
    assert path.read_text() == "[desk]\nevery_minutes = 30\n"
    assert load_settings(path).desk.every_minutes == 30


def test_values_are_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[general]\ntimezone = "America/New_York"\nsoreness_threshold = 4\n'
        '[car]\ntimes = ["17:45", "08:30"]\ndays = ["Mon", "wed"]\n'
        '[quiet]\nhours = ["12:00-13:00"]\nweekends_off = true\n'
        '[catalogue.doorway-stretch]\ntitle = "Doorway stretch"\nhow = "Lean through."\ndose = "3 x 30 s"\n'
        '[drills]\ndaily = ["wall-alignment", "doorway-stretch"]\n',
    )
    s = load_settings(path)
    assert str(s.zone()) == "America/New_York" and s.soreness_threshold == 4
    assert s.car_times == (time(8, 30), time(17, 45)) and s.car_days == frozenset({0, 2})
    assert s.quiet_hours == ((time(12), time(13)),) and s.weekends_off
    assert s.daily_drills == ("wall-alignment", "doorway-stretch")
    assert s.catalogue["doorway-stretch"].dose == "3 x 30 s"


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ("[desk]\n\nevery_minutes = 3\n", 3, "desk.every_minutes", "from 5 to 480, got 3"),
        ('[desk]\nstart = "9am"\n', 2, "desk.start", 'must be a time "HH:MM"'),
        ('[desk]\nstart = "18:00"\nend = "09:00"\n', 3, "desk.end", "later than start"),
        ('[general]\ntimezone = "Mars/Olympus"\n', 2, "general.timezone", "unknown time zone"),
        ("[general]\nsoreness_threshold = 11\n", 2, "general.soreness_threshold", "from 1 to 10"),
        ('[car]\ndays = ["mon", "funday"]\n', 2, "car.days", "unknown day 'funday'"),
        ("[desk]\nevry_minutes = 30\n", 2, "desk.evry_minutes", "unknown key"),
        ("[deks]\n", 1, "deks", "unknown section"),
        ('[drills]\ndaily = ["handstand"]\n', 2, "drills.daily", "unknown drill 'handstand'"),
        ("[desk]\nevery_minutes = = 3\n", 2, "(syntax)", "Invalid value"),
        ('[quiet]\nhours = ["13:00-12:00"]\n', 2, "quiet.hours", "ends before it starts"),
    ],
)
def test_mistakes_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and key in message and problem in message
    assert path.read_text() == text


def test_broken_config_names_its_line_and_the_record_is_kept(cli: Cli) -> None:
    (cli.home / "config.toml").write_text("[desk]\nevery_minutes = 'often'\n")
    result = cli("checkin", "upright")
    assert result.code == 0
    assert result.err.strip().splitlines() == [
        f"posture-agent: config error in {cli.home / 'config.toml'}, line 2: desk.every_minutes: "
        "must be a whole number from 5 to 480, got 'often'; using the default settings until it is fixed "
        "(the file was not changed)"
    ]
    assert (cli.home / "data" / "posture-agent.db").exists()
    check = cli("config", "check")
    assert check.code == 2 and "line 2" in check.err


def test_config_path_show_and_check(cli: Cli) -> None:
    assert cli.ok("config", "path").out.strip() == str(cli.home / "config.toml")
    shown = cli.ok("config", "show", "--json").json()
    assert isinstance(shown, dict)
    assert shown["desk"]["every_minutes"] == 45 and shown["desk"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert shown["timezone_in_use"] == "Europe/Berlin"
    assert "OK" in cli.ok("config", "check").out
