"""Draws the one designer source image, `assets/source/posture-agent.png` (1024 × 1024, RGBA).

Run once; after that a designer may replace the PNG with any square artwork of at least 1024 px,
and `assets/build_icons.py` derives every size, format and state from it. The glyph is a runner
with an upright back, in white on a teal rounded square: few thick strokes, so it still reads at
16 px, and a mid-tone tile that stands out on light and dark panels alike.

Usage: python assets/make_source.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024
SUPERSAMPLE = 4  # draw big, then shrink: smooth edges without an anti-aliasing pass
TILE = (13, 128, 112, 255)  # teal
TILE_EDGE = (8, 92, 80, 255)  # darker rim, keeps the tile's shape on a white panel
FIGURE = (255, 255, 255, 255)

OUT = Path(__file__).resolve().parent / "source" / "posture-agent.png"


def _stroke(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], width: float) -> None:
    """A polyline with round caps and joins (Pillow's `line` has neither)."""
    s = SUPERSAMPLE
    pts = [(x * s, y * s) for x, y in points]
    draw.line(pts, fill=FIGURE, width=round(width * s))
    r = width * s / 2
    for x, y in pts:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=FIGURE)


def draw_source() -> Image.Image:
    s = SUPERSAMPLE
    big = Image.new("RGBA", (SIZE * s, SIZE * s), (0, 0, 0, 0))
    d = ImageDraw.Draw(big)
    # The tile: a rounded square, with a rim drawn as a slightly larger square beneath it.
    d.rounded_rectangle((16 * s, 16 * s, 1008 * s, 1008 * s), radius=232 * s, fill=TILE_EDGE)
    d.rounded_rectangle((48 * s, 48 * s, 976 * s, 976 * s), radius=204 * s, fill=TILE)

    # The runner, mid-stride, back straight and tall (a slight forward lean from the ankles).
    head = (566, 214)
    r = 92
    d.ellipse(((head[0] - r) * s, (head[1] - r) * s, (head[0] + r) * s, (head[1] + r) * s), fill=FIGURE)
    neck, hip = (548, 352), (502, 590)
    _stroke(d, [neck, hip], 124)  # the upright back: the thickest stroke, the icon's point
    _stroke(d, [(540, 398), (660, 478), (748, 392)], 72)  # front arm
    _stroke(d, [(536, 398), (408, 466), (338, 392)], 72)  # back arm
    _stroke(d, [hip, (652, 690), (610, 860)], 88)  # front leg
    _stroke(d, [hip, (420, 730), (270, 770)], 88)  # back leg
    return big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    draw_source().save(OUT, optimize=True)
    print(f"wrote {OUT.name}")


if __name__ == "__main__":
    main()
