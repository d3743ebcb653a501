"""Camera check-ins in the running agent, driven by a pinned clock on a real database: at a desk
check-in time the camera (a video file here, read by the real child process with real inference)
answers instead of the prompt: upright is stored silently, slouched is stored and told in one
notification whose buttons store the user's word, away stores the prompt `away`, a busy camera
holds the prompt as a meeting. The resident never imports OpenCV."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from posture_agent.agent.camera_checks import SIT_TALL, WRONG, CameraCheckins
from posture_agent.agent.events import CAMERA_SLOUCHED, PROMPT_CLOSED, PROMPT_DUE
from posture_agent.camera.calibration import save_calibration
from posture_agent.camera.launch import CheckResult, run_check
from posture_agent.camera.measures import Calibration, Measures, Thresholds, Verdict
from posture_agent.clock import FixedClock
from tests.camera_frames import need_camera_extra, scene_videos
from tests.desktop import Desktop, wait_for
from tests.processes import PinnedClock, RunningAgent, rows, run_cli
from tests.test_agent_core import Rig, at, checkins_shown
from tests.test_notify_actions import dunst
from tests.test_tray_desktop import shots

__all__ = ["dunst", "shots"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_camera_extra()
    return scene_videos(tmp_path_factory.mktemp("scenes"))


def camera_home(home: Path, source: Path | str) -> None:
    (home / "config.toml").write_text(
        f'[general]\ntimezone = "Europe/Berlin"\n[camera]\nenabled = true\nsource = "{source}"\n', encoding="utf-8")


@pytest.fixture
def calibrated(home: Path, tz: str, videos: dict[str, Path]) -> Path:
    v = run_check(str(videos["upright"]), None, Thresholds()).verdict.measures
    assert v.centre_x is not None and v.centre_y is not None and v.face_width is not None
    (home / "data").mkdir(parents=True, exist_ok=True)
    save_calibration(home / "data", Calibration(v.centre_x, v.centre_y, v.face_width))
    return home


@contextmanager
def camera_rig(home: Path, source: Path | str) -> Iterator[Rig]:
    camera_home(home, source)
    r = Rig(home, FixedClock(at(25, 9, 44)))  # a Wednesday: the 09:45 desk check-in is next
    try:
        yield r
    finally:
        r.close()


def checkin_rows(rig: Rig) -> list[tuple[object, ...]]:
    return rig.rows("SELECT posture, context, answered_by, prompted, head_drop_cm IS NOT NULL "
                    "FROM checkins ORDER BY created_at")


def test_slouched_is_stored_and_told_once_and_a_correction_counts(calibrated: Path, videos: dict[str, Path]) -> None:
    with camera_rig(calibrated, videos["slouched"]) as rig:
        shown = rig.tick_at(at(25, 9, 46))
        assert checkins_shown(shown) == []  # the camera answered: no prompt
        assert not [e for e in rig.events if e.kind == PROMPT_DUE and e.active and e.active.prompt.kind == "checkin"]
        told = [e for e in rig.events if e.kind == CAMERA_SLOUCHED]
        assert len(told) == 1 and told[0].detail.startswith("You are slouching (head ")
        assert "cm lower than your upright)" in told[0].detail
        assert any(e.kind == PROMPT_CLOSED and e.outcome == "answered" for e in rig.events)
        assert checkin_rows(rig) == [("slouched", "desk", "camera", 1, 1)]
        prompts = rig.rows("SELECT kind, outcome FROM prompts WHERE kind LIKE 'checkin%'")
        assert prompts == [("checkin-desk", "answered")]
        active = told[0].active
        assert active is not None
        rig.agent.camera_reply_later(active, WRONG).result(timeout=30)
        assert checkin_rows(rig)[-1] == ("upright", "desk", "user", 1, 0)  # the user's correction, beside it
        rig.agent.camera_reply_later(active, SIT_TALL).result(timeout=30)
        assert checkin_rows(rig)[-1] == ("slouched", "desk", "user", 1, 0)
        assert rig.tick_at(at(25, 9, 50)) == []  # nothing asked again


def test_upright_is_stored_without_a_prompt(calibrated: Path, videos: dict[str, Path]) -> None:
    with camera_rig(calibrated, videos["upright-dark"]) as rig:
        rig.tick_at(at(25, 9, 46))
        assert not [e for e in rig.events if e.kind in (PROMPT_DUE, CAMERA_SLOUCHED)
                    and e.active and e.active.prompt.kind == "checkin"]
        assert checkin_rows(rig) == [("upright", "desk", "camera", 1, 1)]


def test_nobody_there_stores_the_prompt_away(calibrated: Path, videos: dict[str, Path]) -> None:
    with camera_rig(calibrated, videos["away-background"]) as rig:
        rig.tick_at(at(25, 9, 46))
        assert checkin_rows(rig) == []
        assert rig.rows("SELECT kind, outcome, shown_at FROM prompts WHERE kind LIKE 'checkin%'") == [
            ("checkin-desk", "away", None)]


def test_a_busy_camera_holds_the_prompt_as_a_meeting(home: Path, tz: str) -> None:
    calls: list[str] = []

    def busy(source: str, calibration: Calibration | None, limits: Thresholds) -> CheckResult:
        calls.append(source)
        return CheckResult(Verdict("busy", Measures(0, 0), detail="camera 0 is in use by another program"), {}, 50.0)

    (home / "data").mkdir(parents=True, exist_ok=True)
    save_calibration(home / "data", Calibration(0.44, 0.22, 0.2))
    with camera_rig(home, "0") as rig:
        clock = [0.0]
        settings = rig.agent.settings
        camera = CameraCheckins(lambda: settings, rig.paths.data_dir, run=busy, monotonic=lambda: clock[0],
                                installed=lambda: True)
        rig.agent.service.camera = camera
        assert checkins_shown(rig.tick_at(at(25, 9, 46))) == []
        held = rig.agent.service.held_now()
        assert [(h.prompt.slot, h.reason, h.signal) for h in held] == [
            ("checkin-desk", "the camera is in use (a call?)", "calendar")]
        clock[0] = 60.0
        rig.tick_at(at(25, 9, 47))
        assert len(calls) == 1  # not opened again within five minutes
        assert rig.agent.service.held_now() == held  # held since 09:46, not again at each pass
        assert rig.rows("SELECT count(*) FROM prompts WHERE kind LIKE 'checkin%'") == [(0,)]
        clock[0] = 400.0
        camera.run = lambda s, c, lim: CheckResult(Verdict("upright", Measures(5, 5, 0.44, 0.22, 0.2), 0.0, 1.0), {}, 1)
        rig.tick_at(at(25, 9, 53))  # the call is over: the camera answers the held check-in
        assert checkin_rows(rig) == [("upright", "desk", "camera", 1, 1)]
        assert rig.agent.service.held_now() == ()


def test_the_camera_uncalibrated_asks_as_usual(home: Path, tz: str, tmp_path: Path) -> None:
    with camera_rig(home, tmp_path / "clip.avi") as rig:  # enabled, but never calibrated: never opened
        assert checkins_shown(rig.tick_at(at(25, 9, 46))) == [("checkin", "desk", "09:45")]
        assert checkin_rows(rig) == []


def test_a_failing_check_asks_as_usual(home: Path, tz: str, tmp_path: Path) -> None:
    need_camera_extra()
    (home / "data").mkdir(parents=True, exist_ok=True)
    save_calibration(home / "data", Calibration(0.44, 0.22, 0.2))
    with camera_rig(home, tmp_path / "gone.avi") as rig:  # calibrated, but the video is not there
        assert checkins_shown(rig.tick_at(at(25, 9, 46))) == [("checkin", "desk", "09:45")]
        assert checkin_rows(rig) == []


def test_the_resident_never_maps_opencv(calibrated: Path, videos: dict[str, Path]) -> None:
    """An agent process that ran a camera check (in its child) has no cv2 among its modules."""
    camera_home(calibrated, videos["slouched"])
    script = textwrap.dedent(f"""
        import json, sys
        from datetime import datetime
        from zoneinfo import ZoneInfo
        import posture_agent.app  # everything the resident loads at start
        from posture_agent.agent.runtime import Agent
        from posture_agent.clock import FixedClock
        from posture_agent.config import load_settings
        from posture_agent.paths import Paths
        from posture_agent.presence.base import always_present
        from posture_agent.store.db import open_store
        paths = Paths.resolve({str(calibrated)!r})
        store = open_store(paths.db_file, paths.backup_dir)
        clock = FixedClock(datetime(2026, 11, 25, 9, 46, tzinfo=ZoneInfo("Europe/Berlin")))
        agent = Agent(paths, load_settings(paths.config_file), store, clock, presence=always_present)
        agent.tick()
        store.close()
        mapped = [line for line in open("/proc/self/maps") if "cv2" in line or "opencv" in line.lower()]
        print(json.dumps({{"modules": sorted(m for m in sys.modules if m.split(".")[0] == "cv2"),
                          "mapped": len(mapped)}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"modules": [], "mapped": 0}
    rows = subprocess.run([sys.executable, "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
                           "\"SELECT answered_by, posture FROM checkins\").fetchall())",
                           str(calibrated / "data" / "posture-agent.db")], capture_output=True, text=True, check=True)
    assert rows.stdout.strip() == "[('camera', 'slouched')]"  # the check did run, in its child


@pytest.mark.desktop
def test_the_slouch_notification_in_dunst_takes_a_correction(
    calibrated: Path, videos: dict[str, Path], dunst: Desktop, shots: Path,
) -> None:
    """On the virtual desktop: the camera finds the user slouching at 09:45, dunst shows one
    notification with Sit tall / That's wrong, and pressing That's wrong stores the user's upright."""
    with camera_rig(calibrated, videos["slouched"]) as rig:
        rig.tick_at(at(25, 9, 1))  # the 07:30 drills and the 09:00 car check-in (no camera in the car)
        for active in rig.agent.status().open_prompts:
            rig.agent.skip(active)
        notifier = rig.agent.open_notifier()
        try:
            rig.tick_at(at(25, 9, 46))
            assert wait_for(lambda: dunst.displayed() == 1, timeout=10)
            said = dunst.notifications()
            assert "Camera check" in said and "You are slouching (head " in said and "Press your answer" not in said
            dunst.screenshot(shots / "camera-slouch.png", crop="340x120+684+40")  # POSTURE_AGENT_SHOTS keeps it
            menu = dunst.press("That's wrong")
            assert "#Sit tall " in menu and "#That's wrong " in menu, menu
            want = [("slouched", "desk", "camera", 1, 1), ("upright", "desk", "user", 1, 0)]
            assert wait_for(lambda: [r for r in checkin_rows(rig) if r[1] == "desk"] == want, timeout=10), \
                checkin_rows(rig)
        finally:
            notifier.close()


@pytest.mark.desktop
def test_the_running_agent_checks_by_camera_and_the_report_counts_the_correction(
    calibrated: Path, videos: dict[str, Path], dunst: Desktop, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`posture-agent start --no-tray` as users run it, its clock pinned just before the 09:45 desk
    check-in: the camera answers slouched, dunst shows the notification, That's wrong is pressed,
    and `report` counts the user's upright and says the camera and the user disagreed once."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("POSTURE_AGENT_HOME", raising=False)
    (calibrated / "config.toml").write_text(
        '[general]\ntimezone = "Europe/Berlin"\n[desk]\nstart = "09:45"\n[car]\ndays = []\n[circuit]\ndays = []\n'
        f'[drills]\ntime = "20:00"\n[camera]\nenabled = true\nsource = "{videos["slouched"]}"\n', encoding="utf-8")
    clock = PinnedClock(at(25, 9, 44) + timedelta(seconds=55))
    env = clock.env(dunst.env, TZ="Europe/Berlin")
    agent = RunningAgent(calibrated, env=env)
    try:
        assert wait_for(lambda: "You are slouching (head " in dunst.notifications(), timeout=30), \
            dunst.notifications()
        menu = dunst.press("That's wrong")
        assert "#Sit tall " in menu, menu
        want = [("camera", "slouched"), ("user", "upright")]
        assert wait_for(lambda: rows(calibrated, "SELECT answered_by, posture FROM checkins ORDER BY rowid") == want,
                        timeout=15), rows(calibrated, "SELECT answered_by, posture FROM checkins")
    finally:
        code, err = agent.stop()
    assert code == 0, err
    report = run_cli(calibrated, "report", "--json", env=env)
    data = json.loads(report.stdout)
    assert (data["checkins"]["answered"], data["checkins"]["upright"]) == (1, 1)  # the correction counts
    assert data["camera"]["both_answered"] == 1 and data["camera"]["agreed"] == 0
