"""The camera commands end to end: enable (the explanation, the config), calibrate on a video of
the upright photo, check videos of the derived frames, and the camera check-ins they store. The
checks run in the real child process with real inference; no camera is needed."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest

from posture_agent.config import load_settings
from tests.camera_frames import need_camera_extra, scene_videos
from tests.conftest import Cli
from tests.desktop import Desktop, wait_for
from tests.test_ui_windows import Ui, click, desktop, keys, settings_on_tab, shot, ui

__all__ = ["desktop", "ui"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_camera_extra()
    return scene_videos(tmp_path_factory.mktemp("scenes"))


def rows(cli: Cli) -> list[tuple[object, ...]]:
    with sqlite3.connect(cli.home / "data" / "posture-agent.db") as conn:
        return conn.execute("SELECT posture, context, answered_by, head_drop_cm, face_size_ratio, source "
                            "FROM checkins ORDER BY created_at").fetchall()


def test_enable_explains_and_writes_the_config(cli: Cli) -> None:
    out = cli.ok("camera", "enable").out
    for said in ("about a second", "No image ever leaves memory", "camera disable", "camera calibrate"):
        assert said in out
    config = (cli.home / "config.toml").read_text(encoding="utf-8")
    assert "enabled = true" in config and 'timezone = "Europe/Berlin"' in config
    assert cli.ok("config", "show", "--json").json()["camera_enabled"] is True  # type: ignore[index]
    cli.ok("camera", "disable")
    assert cli.ok("config", "show", "--json").json()["camera_enabled"] is False  # type: ignore[index]


def test_calibrate_then_check_stores_camera_checkins(cli: Cli, videos: dict[str, Path]) -> None:
    refused = cli("camera", "check", "--source", str(videos["slouched"]))
    assert refused.code != 0 and "not calibrated" in refused.err
    assert not (cli.home / "data" / "posture-agent.db").exists()
    cal = cli.ok("camera", "calibrate", "--source", str(videos["upright"]), "--json").json()
    assert isinstance(cal, dict) and set(cal["calibration"]) == {"centre_x", "centre_y", "face_width",
                                                                  "calibrated_at", "source"}
    stored = json.loads((cli.home / "data" / "camera-calibration.json").read_text())
    assert all(isinstance(v, (int, float)) for k, v in stored.items() if k not in ("calibrated_at", "source"))

    text = cli.ok("camera", "check", "--source", str(videos["slouched"])).out
    assert "Camera check: slouched" in text and "stored as a camera check-in" in text
    checked = cli.ok("camera", "check", "--source", str(videos["upright-dark"]), "--json").json()
    assert isinstance(checked, dict) and checked["verdict"] == "upright" and checked["stored"]
    away = cli.ok("camera", "check", "--source", str(videos["away-background"]), "--json").json()
    assert isinstance(away, dict) and away["verdict"] == "away" and away["stored"] is None
    dry = cli.ok("camera", "check", "--source", str(videos["slouched-leaning-in"]), "--dry-run", "--json").json()
    assert isinstance(dry, dict) and dry["verdict"] == "slouched" and dry["stored"] is None

    got = rows(cli)
    assert [(p, c, by, s) for p, c, by, _, _, s in got] == [("slouched", "desk", "camera", "cli"),
                                                           ("upright", "desk", "camera", "cli")]
    drop, ratio = got[0][3], got[0][4]
    assert isinstance(drop, float) and drop > 6 and isinstance(ratio, float) and ratio > 1
    cli.ok("checkin", "upright")
    assert rows(cli)[-1][2] == "user"
    exported = cli.ok("export", "--format", "json").json()
    assert isinstance(exported, dict)
    assert sorted(r["answered_by"] for r in exported["records"]) == ["camera", "camera", "user"]


def test_calibrating_on_an_empty_room_is_refused_and_stores_nothing(cli: Cli, videos: dict[str, Path]) -> None:
    result = cli("camera", "calibrate", "--source", str(videos["away-blank"]))
    assert result.code != 0 and "no face found" in result.err and result.err.count("\n") == 1
    assert not (cli.home / "data" / "camera-calibration.json").exists()
    missing = cli("camera", "calibrate", "--source", str(videos["away-blank"].with_name("gone.avi")))
    assert missing.code != 0 and "no video file" in missing.err


def test_doctor_says_what_the_camera_needs(cli: Cli, videos: dict[str, Path]) -> None:
    def camera_check() -> dict[str, object]:
        report = cli("doctor", "--json").json()
        assert isinstance(report, dict)
        return next(c for c in report["checks"] if c["check"] == "camera")

    off = camera_check()
    assert off["ok"] is True and str(off["detail"]).startswith("off; extra installed")
    (cli.home / "config.toml").write_text(
        f'[general]\ntimezone = "Europe/Berlin"\n[camera]\nenabled = true\nsource = "{videos["upright"]}"\n')
    on = camera_check()
    assert on["ok"] is False and "not calibrated" in str(on["detail"]) and "camera calibrate" in str(on["fix"])
    cli.ok("camera", "calibrate")  # the config's source
    assert camera_check()["ok"] is True


@pytest.mark.desktop
def test_settings_turn_camera_checkins_on(desktop: Desktop, ui: Ui, tmp_path: Path) -> None:
    """The Settings window's Check-ins tab has the camera's box; ticking it and saving writes
    `[camera] enabled = true` into the user's file."""
    path = tmp_path / "config.toml"
    holder, win = settings_on_tab(desktop, ui, path, 1)
    assert ui.call(lambda _r: holder["w"].flags["camera.enabled"].get()) is False
    shot(desktop, "settings-camera", win)
    click(desktop, ui, lambda _r: holder["w"].first["camera.enabled"])
    assert wait_for(lambda: ui.call(lambda _r: holder["w"].flags["camera.enabled"].get()) is True, timeout=5)
    keys(desktop, win, "Return")
    assert wait_for(lambda: desktop.window("settings$") is None, timeout=8)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["camera"] == {"enabled": True}
    assert load_settings(path).camera_enabled is True
