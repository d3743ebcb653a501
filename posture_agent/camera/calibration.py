"""The calibrated upright pose, kept in the data folder as three numbers (never an image)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from posture_agent.camera.measures import Calibration
from posture_agent.errors import UserError
from posture_agent.inputs import NotARegularFile, read_bounded

FILE_NAME = "camera-calibration.json"
MAX_BYTES = 4096


def calibration_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def load_calibration(data_dir: Path) -> Calibration | None:
    """The stored calibration, None when there is none; a damaged file is a UserError naming it."""
    path = calibration_file(data_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(read_bounded(path, MAX_BYTES))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return Calibration.from_json(data)
    except (OSError, NotARegularFile, ValueError) as exc:
        raise UserError(f"{path}: unusable camera calibration ({exc}); run posture-agent camera calibrate") from None


def save_calibration(data_dir: Path, calibration: Calibration) -> Path:
    """Written whole or not at all (temporary file, then rename), readable by the user alone."""
    path = calibration_file(data_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(calibration.to_json(), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
