"""The camera's part of a desk check-in (docs/camera.md): with camera check-ins on, a check runs in
a child process before the prompt would be shown, and its verdict decides what the user sees.

- upright: stored as a check-in answered by the camera, the prompt closed, nothing shown;
- slouched: stored the same way, and one notification says so ("Sit tall" / "That's wrong"; a
  press stores the user's own word beside the camera's: slouched, or upright as a correction);
- away: the prompt is stored `away`, as one held while the user was away;
- busy (a call holds the camera): the prompt is held as in a meeting, the camera tried again later.

Anything else (camera off, another context, no extra, not calibrated, the check failing) leaves the
prompt to be asked as usual. This module starts the child and reads its answer: it never imports
OpenCV, so the resident never maps it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from posture_agent.camera.calibration import load_calibration
from posture_agent.camera.launch import CameraError, CheckResult, extra_installed, run_check
from posture_agent.camera.measures import Calibration, Measures, Thresholds, Verdict
from posture_agent.config import Settings
from posture_agent.domain.plan import CHECKIN_GROUP, Prompt
from posture_agent.errors import UserError

log = logging.getLogger(__name__)

BUSY_RECHECK_S = 300.0
"""A camera found busy is not opened again for this long: a held prompt is looked at every minute."""
BUSY_REASON = "the camera is in use (a call?)"
SIT_TALL, WRONG = "sit-tall", "wrong"
CAMERA_ACTIONS = ((SIT_TALL, "Sit tall"), (WRONG, "That's wrong"))
"""The slouch notification's buttons: (key, label)."""
USER_WORD = {SIT_TALL: "slouched", WRONG: "upright"}
"""The check-in each press stores as the user's own answer: "Sit tall" agrees with the camera,
"That's wrong" corrects it."""

RunCheck = Callable[[str, Calibration | None, Thresholds], CheckResult]
_NO_MEASURES = Measures(frames=0, seen=0)


class CameraCheckins:
    def __init__(self, settings: Callable[[], Settings], data_dir: Path, run: RunCheck = run_check,
                 monotonic: Callable[[], float] = time.monotonic,
                 installed: Callable[[], bool] = extra_installed) -> None:
        """`run`, `monotonic` and `installed` (whether the extra is there): tests give their own."""
        self.settings = settings
        self.data_dir = data_dir
        self.run = run
        self.installed = installed
        self.monotonic = monotonic
        self._busy_since: float | None = None
        self._said: set[str] = set()

    def verdict(self, prompt: Prompt) -> Verdict | None:
        """The camera's verdict for a due check-in, or None when the prompt is to be asked as usual."""
        s = self.settings()
        if not s.camera_enabled or prompt.kind != CHECKIN_GROUP or prompt.context != "desk":
            return None
        if self._busy_since is not None and self.monotonic() - self._busy_since < BUSY_RECHECK_S:
            return Verdict("busy", _NO_MEASURES, detail=BUSY_REASON)
        calibration = None
        try:
            calibration = load_calibration(self.data_dir)
            problem = ("" if self.installed() else "the camera extra is not installed") or (
                "" if calibration is not None else "not calibrated (posture-agent camera calibrate)")
        except UserError as exc:
            problem = str(exc)
        if problem:
            if problem not in self._said:  # once per reason, not at every check-in
                log.warning("camera check-ins are on but %s: check-ins are asked as usual", problem)
                self._said.add(problem)
            return None
        try:
            result = self.run(s.camera_source, calibration, Thresholds(s.camera_drop_cm, s.camera_lean_ratio))
        except CameraError as exc:
            log.warning("camera check failed: %s; the check-in is asked as usual", exc)
            return None
        v = result.verdict
        log.info("camera check for %s due %s: %s (%s) in %.0f ms", prompt.slot, prompt.due.isoformat(),
                 v.verdict, v.detail, result.wall_ms)
        self._busy_since = self.monotonic() if v.verdict == "busy" else None
        return v


def slouch_message(v: Verdict) -> str:
    """The slouch notification's text under its title "Camera check", e.g. "You are slouching (head
    4 cm lower than your upright)…"."""
    if v.drop_cm is not None and v.drop_cm >= 1:
        what = f"head {v.drop_cm:.0f} cm lower than your upright"
    elif v.size_ratio is not None:
        what = f"leaning in: your face {v.size_ratio:.1f}x as near as your upright"
    else:
        what = "against your upright"
    return (f"You are slouching ({what})… Sit tall: shoulders back and down, chin in. "
            "Measured on this computer; no image kept.")

