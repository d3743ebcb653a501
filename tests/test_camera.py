"""Camera check-ins: the verdict rules on plain numbers, and real inference (OpenCV's Haar face
model) on a real photo and the frames derived from it, read as video files through the same
child process the agent starts. No camera is needed: the sources are video files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from posture_agent.camera.launch import CameraError, run_check
from posture_agent.camera.measures import Calibration, Measures, Thresholds, Verdict, judge
from tests.camera_frames import SCENES, burst_video, need_camera_extra, sample, scene_videos, write_video

CAL = Calibration(centre_x=0.44, centre_y=0.22, face_width=0.20)


def test_judge_compares_with_the_calibrated_upright() -> None:
    limits = Thresholds()
    upright = judge(Measures(5, 5, 0.44, 0.225, 0.2), CAL, limits)
    assert upright.verdict == "upright" and abs(upright.drop_cm or 0) < 1
    sunk = judge(Measures(5, 4, 0.44, 0.28, 0.2), CAL, limits)  # 0.06 / 0.2 * 15 cm = 4.5 cm lower
    assert sunk.verdict == "slouched" and sunk.drop_cm == pytest.approx(4.5)
    leaning = judge(Measures(5, 5, 0.44, 0.22, 0.25), CAL, limits)
    assert leaning.verdict == "slouched" and leaning.size_ratio == pytest.approx(1.25)
    assert judge(Measures(5, 2, 0.44, 0.22, 0.2), CAL, limits).verdict == "away"  # a face in 2 of 5 frames
    assert judge(Measures(5, 0), CAL, limits).verdict == "away"
    assert judge(Measures(5, 5, 0.44, 0.4, 0.2), None, limits).verdict == "upright"  # calibrating: measures only


def test_a_verdict_read_back_from_json_is_checked() -> None:
    v = judge(Measures(5, 5, 0.44, 0.3, 0.2), CAL, Thresholds())
    assert Verdict.from_json(json.loads(json.dumps(v.to_json()))).verdict == "slouched"
    with pytest.raises(ValueError, match="verdict"):
        Verdict.from_json({"verdict": "lying down", "measures": {}})
    with pytest.raises(ValueError, match="centre_y"):
        Verdict.from_json({"verdict": "upright", "measures": {"frames": 5, "seen": 5, "centre_y": "high"}})


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_camera_extra()
    return scene_videos(tmp_path_factory.mktemp("scenes"))


def test_every_scene_gets_its_verdict_through_the_child_process(videos: dict[str, Path]) -> None:
    calibrated = run_check(str(videos["upright"]), None, Thresholds())
    m = calibrated.verdict.measures
    assert calibrated.verdict.verdict == "upright" and m.seen == 5 and m.frames == 5
    assert m.centre_y is not None and m.face_width is not None and m.centre_x is not None
    cal = Calibration(m.centre_x, m.centre_y, m.face_width)
    got = {s.name: run_check(str(videos[s.name]), cal, Thresholds()).verdict for s in SCENES}
    wrong = {name: (v.verdict, v.drop_cm, v.size_ratio) for name, v in got.items()
             if v.verdict != next(s.expected for s in SCENES if s.name == name)}
    assert wrong == {}
    assert got["slouched"].drop_cm is not None and got["slouched"].drop_cm > 6  # lowered about 70 px of 512
    assert got["upright-someone-behind"].measures.people == 2  # both found, the nearer one measured
    assert got["away-blank"].measures.seen == 0


def test_what_leaves_the_child_is_numbers_only(videos: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "posture_agent.camera", "--source", str(videos["slouched"])],
                          capture_output=True, check=True, timeout=60)
    answer = json.loads(done.stdout)
    assert set(answer) == {"verdict", "drop_cm", "size_ratio", "detail", "measures", "timings"}
    assert set(answer["measures"]) == {"frames", "seen", "centre_x", "centre_y", "face_width", "people"}
    assert len(done.stdout) < 1000  # no frame, no landmark list


def test_a_missing_source_is_one_clear_error(tmp_path: Path) -> None:
    need_camera_extra()
    with pytest.raises(CameraError, match="no video file"):
        run_check(str(tmp_path / "nothing.avi"), None, Thresholds())
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(CameraError, match=r"cannot be read as a video|has no frames"):
        run_check(str(junk), None, Thresholds())
    with pytest.raises(CameraError, match="no camera 9"):
        run_check("9", None, Thresholds())  # no /dev/video9 here


def test_a_short_video_gives_the_frames_it_has(tmp_path: Path) -> None:
    need_camera_extra()
    two = write_video(tmp_path / "two.avi", [sample("astronaut.png")] * 2)
    result = run_check(str(two), None, Thresholds())
    assert result.verdict.measures.frames == 2 and result.verdict.verdict == "upright"


def test_a_real_camera_when_there_is_one() -> None:
    need_camera_extra()
    if not Path("/dev/video0").exists():
        pytest.skip("no camera on this machine (/dev/video0): the other tests read video files instead")
    result = run_check("0", None, Thresholds())
    assert result.verdict.verdict in ("upright", "away", "busy")


def test_burst_video_holds_the_scene(tmp_path: Path) -> None:
    need_camera_extra()
    import cv2

    path = burst_video(tmp_path / "b.avi", sample("astronaut.png"), frames=4)
    capture = cv2.VideoCapture(str(path))
    try:
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    finally:
        capture.release()
