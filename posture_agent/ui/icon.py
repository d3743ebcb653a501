"""The tray icon's look for each state: normal, paused, SI protocol.

Designed PNGs in `posture_agent/data/icons/{state}.png` win when they are shipped; otherwise a
clear glyph is drawn with Pillow (an upright figure with a stacked spine), so the icon never
depends on a file being present.

The StatusNotifierItem tray (ui/sni.py) takes the icon as pixels, not as an image: `tray_pixmaps`
reads them from `posture_agent/data/icons/{state}.pixmaps` (made beside the PNGs by
assets/build_icons.py), so the resident agent never loads Pillow to show its icon; only a missing
or damaged file falls back to converting `tray_image`.
"""

from __future__ import annotations

import logging
import math
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

STATES = ("normal", "paused", "protocol")
SIZE = 64
"""Pixels of the fallback glyph; trays scale it down (22-32 px) themselves."""

TEAL = (22, 122, 104, 255)
GREY = (128, 134, 140, 255)
DEEP_BLUE = (30, 64, 135, 255)
SKY = (14, 165, 233, 255)
INK = (33, 37, 41, 255)
WHITE = (255, 255, 255, 255)


def tray_image(state: str) -> Image:
    """The icon for `state` (one of STATES), as an RGBA Pillow image."""
    if state not in STATES:
        raise ValueError(f"unknown tray state {state!r} (known: {', '.join(STATES)})")
    return _cached(state).copy()


@lru_cache(maxsize=len(STATES))
def _cached(state: str) -> Image:
    shipped = _shipped(state)
    return shipped if shipped is not None else draw_fallback(state)


def _shipped(state: str) -> Image | None:
    from PIL import Image as PILImage

    try:
        ref = resources.files("posture_agent.data").joinpath("icons", f"{state}.png")
        if not ref.is_file():
            return None
        with ref.open("rb") as f:
            image = PILImage.open(f)
            image.load()
        return image.convert("RGBA")
    except (OSError, ValueError) as exc:  # a damaged file must not cost the user the tray
        log.warning("icon %s.png could not be read (%s); drawing the built-in one", state, exc)
        return None


@dataclass(frozen=True)
class Pixmaps:
    """An icon as StatusNotifierItem hosts take it (`IconPixmap`, signature a(iiay)): one
    (width, height, pixels) per size, each pixel ARGB32 in network byte order."""

    sizes: tuple[tuple[int, int, bytes], ...]


PIXMAP_SIZES = (16, 22, 24, 32, 48, 64)
"""The sizes shipped: a panel picks the nearest to its own and scales no more than that."""
_HEADER = struct.Struct(">II")


def tray_pixmaps(state: str) -> Pixmaps:
    """The icon for `state` as pixmaps: the shipped bytes, or (missing, damaged) `tray_image`'s."""
    if state not in STATES:
        raise ValueError(f"unknown tray state {state!r} (known: {', '.join(STATES)})")
    return _cached_pixmaps(state)


@lru_cache(maxsize=len(STATES))
def _cached_pixmaps(state: str) -> Pixmaps:
    try:
        ref = resources.files("posture_agent.data").joinpath("icons", f"{state}.pixmaps")
        if ref.is_file():
            return decode_pixmaps(ref.read_bytes())
    except (OSError, ValueError, zlib.error) as exc:
        log.warning("icon %s.pixmaps could not be read (%s); converting the image", state, exc)
    return pixmaps_from_images([tray_image(state)])


def pixmaps_from_images(images: list[Image]) -> Pixmaps:
    """Pillow images (any mode) as pixmaps, in the order given."""
    sizes = []
    for image in images:
        rgba = image.convert("RGBA").tobytes()
        argb = bytearray(len(rgba))
        argb[0::4], argb[1::4], argb[2::4], argb[3::4] = rgba[3::4], rgba[0::4], rgba[1::4], rgba[2::4]
        sizes.append((image.width, image.height, bytes(argb)))
    return Pixmaps(tuple(sizes))


def encode_pixmaps(pixmaps: Pixmaps) -> bytes:
    """The `.pixmaps` file: zlib over, for each size, width and height (big-endian uint32) then
    width × height × 4 bytes of ARGB32."""
    return zlib.compress(b"".join(_HEADER.pack(w, h) + data for w, h, data in pixmaps.sizes), 9)


def decode_pixmaps(blob: bytes) -> Pixmaps:
    """The inverse of `encode_pixmaps`; ValueError (or zlib.error) when the file is not one."""
    raw = zlib.decompress(blob)
    sizes, at = [], 0
    while at < len(raw):
        if at + _HEADER.size > len(raw):
            raise ValueError("a pixmap header is cut short")
        w, h = _HEADER.unpack_from(raw, at)
        at += _HEADER.size
        end = at + w * h * 4
        if not (0 < w <= 1024 and 0 < h <= 1024) or end > len(raw):
            raise ValueError(f"a {w}x{h} pixmap does not fit the file")
        sizes.append((w, h, raw[at:end]))
        at = end
    if not sizes:
        raise ValueError("no pixmap in the file")
    return Pixmaps(tuple(sizes))


def draw_fallback(state: str, size: int = SIZE) -> Image:
    """An upright figure on a round badge: teal when active, grey with a pause mark when paused,
    deep blue with a sky-blue snowflake badge while the SI protocol runs (resting, ice; never a
    "+" that reads as "add"). Drawn 4x larger and scaled down for smooth edges."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    k = 4
    s = size * k
    img = PILImage.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    base = {"paused": GREY, "protocol": DEEP_BLUE}.get(state, TEAL)
    d.ellipse((0, 0, s - 1, s - 1), fill=base)
    cx = s // 2
    # head
    r = int(s * 0.105)
    head_y = int(s * 0.20)
    d.ellipse((cx - r, head_y - r, cx + r, head_y + r), fill=WHITE)
    # shoulders: a bar level and wide, the cue the app is about
    sh_y = int(s * 0.36)
    d.rounded_rectangle((int(s * 0.24), sh_y - int(s * 0.03), int(s * 0.76), sh_y + int(s * 0.03)),
                        radius=int(s * 0.03), fill=WHITE)
    # the spine: stacked vertebrae in a straight line
    top, bottom, n = int(s * 0.43), int(s * 0.86), 5
    step = (bottom - top) / n
    w = int(s * 0.075)
    for i in range(n):
        y0 = int(top + i * step)
        y1 = int(top + (i + 1) * step - s * 0.022)
        d.rounded_rectangle((cx - w, y0, cx + w, y1), radius=int(s * 0.025), fill=WHITE)
    if state == "paused":
        _badge(d, s, INK)
        bx, by, br = int(s * 0.77), int(s * 0.77), int(s * 0.21)
        bw, bh = int(br * 0.28), int(br * 0.95)
        for off in (-int(br * 0.32), int(br * 0.32)):
            d.rectangle((bx + off - bw // 2, by - bh // 2, bx + off + bw // 2, by + bh // 2), fill=WHITE)
    elif state == "protocol":
        _badge(d, s, SKY)
        bx, by, br = int(s * 0.77), int(s * 0.77), int(s * 0.21)
        for k in range(3):  # a six-armed snowflake: three strokes through the centre
            dx, dy = math.sin(k * math.pi / 3) * br * 0.7, math.cos(k * math.pi / 3) * br * 0.7
            d.line((bx - dx, by - dy, bx + dx, by + dy), fill=WHITE, width=int(br * 0.22))
    return img.resize((size, size), PILImage.Resampling.LANCZOS)


def _badge(d: object, s: int, colour: tuple[int, int, int, int]) -> None:
    from PIL import ImageDraw

    assert isinstance(d, ImageDraw.ImageDraw)
    bx, by, br = int(s * 0.77), int(s * 0.77), int(s * 0.21)
    ring = int(s * 0.025)
    d.ellipse((bx - br - ring, by - br - ring, bx + br + ring, by + br + ring), fill=WHITE)
    d.ellipse((bx - br, by - br, bx + br, by + br), fill=colour)
