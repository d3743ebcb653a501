"""The camera and the face detector (OpenCV), for the child process alone.

OpenCV's Haar cascades ship in the `opencv-python-headless` wheel (`cv2.data.haarcascades`): no model
is downloaded at run time. Frames stay in this process's memory and are dropped once measured.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from posture_agent.camera.measures import Measures

DETECT_WIDTH = 256
"""Frames are shrunk to this width before detection: a face at a desk is large (a fifth of the
frame or more), and it keeps inference near 20 ms a frame."""
MIN_FACE = 0.08
"""The smallest face looked for, as a share of the frame's width (someone far behind is not the user)."""


Box = tuple[float, float, float, float]
"""x, y, width, height in pixels."""


class CameraBusy(Exception):
    """The camera exists but another program holds it (a video call)."""


class NoCamera(Exception):
    """No camera (or no video file) at the source named; the message says which."""


@dataclass
class Detector:
    frontal: Any
    profile: Any

    @classmethod
    def load(cls) -> Detector:
        folder = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]  # not in OpenCV's stubs
        frontal = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_alt2.xml"))
        profile = cv2.CascadeClassifier(str(folder / "haarcascade_profileface.xml"))
        if frontal.empty() or profile.empty():
            raise NoCamera(f"the face models are missing from OpenCV's data folder {folder}")
        return cls(frontal, profile)

    def faces(self, frame: Any, near: Box | None = None) -> list[Box]:
        """Faces as (x, y, w, h) in pixels of `frame`, largest (nearest) first. `near`: the face of
        the frame before, searched around first (a few milliseconds instead of a whole frame's
        search); profile faces, either way, only when no frontal face is found."""
        height, width = frame.shape[:2]
        scale = min(1.0, DETECT_WIDTH / width)
        small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))  # a dim room reads like a lit one
        if near is not None:
            x, y, w, h = near
            found = self._around(gray, (x * scale, y * scale, w * scale, h * scale))
            if found:
                fx, fy, fw, fh = found
                return [(fx / scale, fy / scale, fw / scale, fh / scale)]
        min_side = max(20, round(gray.shape[1] * MIN_FACE))
        found_all = [tuple(f) for f in self.frontal.detectMultiScale(gray, 1.15, 5, minSize=(min_side, min_side))]
        if not found_all:
            found_all = [tuple(f) for f in self.profile.detectMultiScale(gray, 1.2, 5, minSize=(min_side, min_side))]
            flipped = cv2.flip(gray, 1)
            w = gray.shape[1]
            for x, y, fw, fh in self.profile.detectMultiScale(flipped, 1.2, 5, minSize=(min_side, min_side)):
                found_all.append((w - x - fw, y, fw, fh))
        boxes = [(x / scale, y / scale, w / scale, h / scale) for x, y, w, h in found_all]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)

    def _around(self, gray: Any, box: Box) -> Box | None:
        """The frontal face in a window of three face widths round `box`, if there is one."""
        x, y, w, h = box
        x0, y0 = max(0, int(x - w)), max(0, int(y - h))
        x1, y1 = min(gray.shape[1], int(x + 2 * w)), min(gray.shape[0], int(y + 2 * h))
        lo, hi = round(w * 0.7), round(w * 1.5)
        found = self.frontal.detectMultiScale(gray[y0:y1, x0:x1], 1.1, 5, minSize=(lo, lo), maxSize=(hi, hi))
        if len(found) == 0:
            return None
        fx, fy, fw, fh = max(found, key=lambda f: f[2] * f[3])
        return (float(fx + x0), float(fy + y0), float(fw), float(fh))


def is_device(source: str) -> bool:
    return source.isdigit()


def open_source(source: str) -> Any:
    """A `cv2.VideoCapture` on a camera index ("0") or a video file, ready to read."""
    if is_device(source):
        index = int(source)
        node = Path(f"/dev/video{index}")
        if sys.platform.startswith("linux") and not node.exists():
            raise NoCamera(f"no camera {index} ({node} does not exist)")
        capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            capture.release()
            if sys.platform.startswith("linux") and not os.access(node, os.R_OK):
                raise NoCamera(f"camera {index} cannot be read ({node}: permission denied)")
            raise CameraBusy(f"camera {index} is in use by another program")
        return capture
    path = Path(source)
    if not path.is_file():
        raise NoCamera(f"no video file {source}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise NoCamera(f"{source} cannot be read as a video")
    return capture


def read_burst(capture: Any, frames: int, warmup: int) -> list[Any]:
    """`frames` frames after `warmup` thrown away (a camera's first frames are dark while its
    exposure settles); fewer when a video file ends first."""
    for _ in range(warmup):
        if not capture.grab():
            break
    out = []
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        out.append(frame)
    return out


@dataclass(frozen=True)
class Timings:
    load_ms: float
    open_ms: float
    read_ms: float
    inference_ms: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items()}


def measure_source(source: str, frames: int, warmup: int, min_seen: float = 0.0) -> tuple[Measures, Timings]:
    """Open `source`, read a burst, and measure the nearest face in each frame (CameraBusy or
    NoCamera when it cannot be read). The camera is released before this returns. The search stops
    once too few frames could still show a face (`min_seen` of them) (nobody there: the answer is known)."""
    t0 = time.perf_counter()
    detector = Detector.load()
    t1 = time.perf_counter()
    capture = open_source(source)
    t2 = time.perf_counter()
    try:
        burst = read_burst(capture, frames, warmup)
    finally:
        capture.release()
    t3 = time.perf_counter()
    if not burst:
        if is_device(source):
            raise CameraBusy(f"camera {source} gave no picture (in use by another program?)")
        raise NoCamera(f"{source} has no frames")
    count = len(burst)
    need = math.ceil(count * min_seen)
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    people = 0
    last: Box | None = None
    for done, frame in enumerate(burst):
        if len(ys) + count - done < need:
            break
        faces = detector.faces(frame, last)
        people = max(people, len(faces))
        last = faces[0] if faces else None
        if faces:
            x, y, w, h = faces[0]
            width = frame.shape[1]
            xs.append((x + w / 2) / width)
            ys.append((y + h / 2) / width)
            ws.append(w / width)
    burst.clear()  # no frame outlives the measuring
    t4 = time.perf_counter()
    timings = Timings((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t4 - t3) * 1000)
    if not ys:
        return Measures(frames=count, seen=0, people=people), timings
    m = Measures(frames=count, seen=len(ys), centre_x=statistics.median(xs), centre_y=statistics.median(ys),
                 face_width=statistics.median(ws), people=people)
    return m, timings
