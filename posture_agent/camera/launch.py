"""Running one camera check from the resident agent or the command line: the check runs in a child
process (`probe`), so OpenCV and its model are never mapped here; only its JSON answer comes back.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass

from posture_agent import CAMERA_PROCESS
from posture_agent.camera.measures import Calibration, Thresholds, Verdict
from posture_agent.errors import UserError

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0
"""A check that takes longer is given up (a camera driver that hangs): the agent treats it as busy."""
MAX_ANSWER_BYTES = 64 * 1024
EXTRA_HINT = "the camera extra is not installed: pip install 'posture-agent[camera]'"


class CameraError(UserError):
    """The check could not run: no camera or video at the source, the extra missing, the child failed."""


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    timings: dict[str, float]
    wall_ms: float
    """From starting the child to reading its answer: what the user waits."""


def extra_installed() -> bool:
    """Whether OpenCV can be imported, found without importing it."""
    return importlib.util.find_spec("cv2") is not None


def child_command() -> list[str]:
    """The program that runs one check: this Python with `-m`, or a frozen build's own executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CAMERA_PROCESS]
    return [sys.executable, "-m", "posture_agent.camera"]


def run_check(source: str, calibration: Calibration | None, limits: Thresholds, frames: int = 5,
              timeout: float = TIMEOUT_S) -> CheckResult:
    """One check in a child process; CameraError when it could not give a verdict."""
    command = [*child_command(), "--source", source, "--frames", str(frames),
               "--drop-cm", repr(limits.drop_cm), "--lean-ratio", repr(limits.lean_ratio)]
    if calibration is not None:
        command += ["--calibration", f"{calibration.centre_x!r},{calibration.centre_y!r},{calibration.face_width!r}"]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CameraError(f"the camera check did not answer within {timeout:g} s") from None
    wall = (time.perf_counter() - started) * 1000
    err = done.stderr.decode("utf-8", "replace")
    if "No module named 'cv2'" in err:
        raise CameraError(EXTRA_HINT)
    try:
        answer = json.loads(done.stdout[:MAX_ANSWER_BYTES] or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        log.warning("camera check exited %s: %s", done.returncode, err[-2000:])
        last = (err.strip().splitlines() or ["no answer"])[-1]
        raise CameraError(f"the camera check failed (exit {done.returncode}): {last[:200]}")
    if "error" in answer:
        raise CameraError(str(answer["error"])[:300])
    try:
        verdict = Verdict.from_json(answer)
    except ValueError as exc:
        raise CameraError(f"the camera check answered something unreadable: {exc}") from None
    raw = answer.get("timings")
    timings = {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float))} if isinstance(raw, dict) else {}
    return CheckResult(verdict, timings, wall)
