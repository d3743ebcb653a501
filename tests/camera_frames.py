"""Pictures for the camera tests and benchmarks: a real upper-body photo that ships in scikit-image's
wheel (`skimage/data/astronaut.png`), the frames derived from it as a camera would see a user
slouch, lean in, move aside, sit in the dark, leave or have someone behind them, and short MJPG
videos of them that the camera check reads through the same OpenCV call as a camera.

Everything here needs the camera extra (OpenCV) and scikit-image: `need_camera_extra()` skips a
test naming what is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FPS = 10.0


def need_camera_extra() -> None:
    """Skip unless OpenCV (the camera extra) and scikit-image's sample photos are installed."""
    if importlib.util.find_spec("cv2") is None:
        pytest.skip("the camera extra (opencv-python-headless) is not installed: pip install -e '.[camera]'")
    if importlib.util.find_spec("skimage") is None:
        pytest.skip("scikit-image (its sample photo astronaut.png) is not installed: pip install -e '.[test]'")


def sample(name: str) -> Any:
    """A photo from scikit-image's data folder as a BGR array (as a camera frame comes)."""
    import cv2
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    image = cv2.imread(str(path))
    if image is None:
        pytest.skip(f"scikit-image's {path.name} is missing from {path.parent}")
    return image


def moved(image: Any, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0, about: tuple[float, float] | None = None,
          ) -> Any:
    """`image` scaled about a point (default its centre) and shifted by (dx, dy) pixels, the frame's
    edges repeated where the picture moved away: a user nearer the camera, lower or aside."""
    import cv2
    import numpy as np

    h, w = image.shape[:2]
    cx, cy = about or (w / 2, h / 2)
    matrix = np.float32([[scale, 0, cx - scale * cx + dx], [0, scale, cy - scale * cy + dy]])
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def darker(image: Any, factor: float = 0.35) -> Any:
    return (image.astype("float32") * factor).astype("uint8")


def with_someone_behind(image: Any) -> Any:
    """A second, smaller person (the same photo at 55 %) in the bottom right corner, beside the user."""
    import cv2

    out = image.copy()
    h, w = image.shape[:2]
    small = cv2.resize(image, (int(w * 0.55), int(h * 0.55)), interpolation=cv2.INTER_AREA)
    out[h - small.shape[0]:, w - small.shape[1]:] = small
    return out


def background(image: Any) -> Any:
    """The room without the user: another sample photo (a cup of coffee) at the frame's size."""
    import cv2

    return cv2.resize(sample("coffee.png"), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)


def blank(image: Any) -> Any:
    import numpy as np

    return np.full_like(image, 118)


FACE = (226.0, 114.0)
"""The astronaut's face centre in the 512 x 512 photo: slouching is drawn about it."""


@dataclass(frozen=True)
class Scene:
    name: str
    expected: str
    make: Callable[[Any], Any]


SCENES = (
    Scene("upright", "upright", lambda im: im),
    Scene("upright-aside", "upright", lambda im: moved(im, dx=60)),
    Scene("upright-other-side", "upright", lambda im: moved(im, dx=-50, dy=-6)),
    Scene("upright-nudged", "upright", lambda im: moved(im, 1.04, dx=10, dy=8, about=FACE)),
    Scene("upright-dark", "upright", darker),
    Scene("upright-someone-behind", "upright", with_someone_behind),
    Scene("slouched", "slouched", lambda im: moved(im, 1.15, dy=70, about=FACE)),
    Scene("slouched-sunk", "slouched", lambda im: moved(im, dy=50)),
    Scene("slouched-leaning-in", "slouched", lambda im: moved(im, 1.35, dy=10, about=FACE)),
    Scene("slouched-dark", "slouched", lambda im: darker(moved(im, 1.15, dy=70, about=FACE))),
    Scene("slouched-aside", "slouched", lambda im: moved(im, 1.12, dx=50, dy=60, about=FACE)),
    Scene("away-blank", "away", blank),
    Scene("away-background", "away", background),
)
"""Each scene's picture from the upright photo, and the verdict a check of it must give against a
calibration made on `upright`."""


def write_video(path: Path, frames: list[Any], fps: float = FPS) -> Path:
    """Frames as a short MJPG .avi (what `cv2.VideoCapture` reads like a camera)."""
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG .avi files")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def burst_video(path: Path, picture: Any, frames: int = 8, jitter: bool = True) -> Path:
    """A video of one scene: the picture held still for a burst, with a pixel or two of the small
    movement a live camera shows."""
    shots = [moved(picture, dx=(i % 3) - 1, dy=(i % 2)) if jitter else picture for i in range(frames)]
    return write_video(path, shots)


def scene_videos(folder: Path) -> dict[str, Path]:
    """One video per scene in `folder`, by scene name."""
    photo = sample("astronaut.png")
    return {s.name: burst_video(folder / f"{s.name}.avi", s.make(photo)) for s in SCENES}
