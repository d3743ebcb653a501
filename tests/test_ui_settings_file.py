"""Saving settings from the window keeps the user's own file: comments, order, other keys."""

from __future__ import annotations

import tomllib
from datetime import time
from pathlib import Path

import pytest

from posture_agent.config import ConfigError, default_text, load_settings
from posture_agent.errors import UserError
from posture_agent.ui.settings_file import apply_changes, save_settings

USER_FILE = """\
# my posture-agent config, tuned for the office
[general]
timezone = "Europe/Berlin"   # where I live
soreness_threshold = 4

[desk]
start = "08:30"  # early starter
# end = "17:30"
every_minutes = 45

[car]
times = [
  "08:15",  # morning drive
  "17:00",
]

[catalogue.doorway-stretch]
title = "Doorway chest stretch"
how = "Forearms on the frame, step through."
dose = "3 x 30 s"
"""


def test_change_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    path.chmod(0o600)
    settings = save_settings(path, {"desk.start": "09:00", "desk.end": "18:00", "general.soreness_threshold": 3})
    text = path.read_text(encoding="utf-8")
    assert 'start = "09:00"  # early starter' in text
    assert '# end = "17:30"\nend = "18:00"' in text, "the commented default stays, the value goes under it"
    assert 'timezone = "Europe/Berlin"   # where I live' in text
    assert "# my posture-agent config, tuned for the office" in text
    assert "[catalogue.doorway-stretch]" in text and "Forearms on the frame" in text
    assert settings.desk.start == time(9) and settings.desk.end == time(18)
    assert settings.soreness_threshold == 3
    assert "doorway-stretch" in settings.catalogue
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_settings(path) == settings


def test_multiline_array_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    save_settings(path, {"car.times": ["07:45"]})
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["car"] == {"times": ["07:45"]}
    assert raw["desk"]["every_minutes"] == 45


def test_missing_section_and_key_are_added(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    settings = save_settings(path, {"quiet.weekends_off": True, "quiet.hours": ["12:00-13:00"]})
    assert settings.weekends_off is True
    assert settings.quiet_hours == ((time(12), time(13)),)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["general"]["timezone"] == "Europe/Berlin"


def test_first_save_starts_from_the_commented_template(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_settings(path, {"drills.time": "06:45"})
    text = path.read_text(encoding="utf-8")
    assert text.startswith(default_text().splitlines()[0])
    assert '# time = "07:30"\ntime = "06:45"' in text
    assert load_settings(path).drill_time == time(6, 45)


def test_invalid_value_leaves_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        save_settings(path, {"desk.end": "07:00"})
    assert caught.value.key == "desk.end"
    assert str(path) in str(caught.value) and "later than start" in str(caught.value)
    with pytest.raises(ConfigError, match="whole number from 1 to 10"):
        save_settings(path, {"general.soreness_threshold": 11})
    assert path.read_text(encoding="utf-8") == USER_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"], "no temporary file left behind"


def test_broken_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[general\ntimezone = 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="fix the file first"):
        save_settings(path, {"general.soreness_threshold": 3})
    assert path.read_text(encoding="utf-8") == "[general\ntimezone = 1\n"


def test_values_are_quoted_safely() -> None:
    text = apply_changes("[general]\n", {"general.device_name": 'desk "A" \\ home'})
    assert tomllib.loads(text)["general"]["device_name"] == 'desk "A" \\ home'
