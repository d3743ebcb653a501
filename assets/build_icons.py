"""Derives every icon the app and its installers need from one source image.

A designer changes `assets/source/posture-agent.png` (square, RGBA, at least 1024 px) and runs
this script; a test fails while the committed outputs are stale. From the source it makes:

- three states: normal (the source), paused (desaturated, with a pause badge) and protocol (an
  ice-blue badge with a snowflake, for the SI-joint protocol: resting and ice, not a "+" that reads
  as "add");
- `assets/icons/<state>/<N>x<N>.png` for N in SIZES;
- `assets/icons/posture-agent.ico` (Windows, multi-size) and `assets/icons/posture-agent.icns` (macOS);
- `assets/icons/hicolor/<N>x<N>/apps/posture-agent.png`, the Linux icon theme layout;
- `posture_agent/data/icons/<state>.png`, the tray icons loaded at run time;
- `posture_agent/data/icons/<state>.pixmaps`, the same states as ARGB32 pixels in several sizes,
  which the StatusNotifierItem tray serves without loading Pillow (posture_agent/ui/icon.py).

Usage: python assets/build_icons.py [--root DIR]   (DIR defaults to the repository root)
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw

from posture_agent.ui.icon import PIXMAP_SIZES, encode_pixmaps, pixmaps_from_images

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("assets/source/posture-agent.png")
STATES = ("normal", "paused", "protocol")
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Pillow's ICNS writer stores ic07-ic14 (128-512 @1x, 16-512 @2x, i.e. 32-1024 px): no 16 px
# element, macOS draws 16 px from the 32 px one.
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
RUNTIME_SIZE = 64
APP_ID = "posture-agent"
MASTER = 1024

PAUSE_BADGE = (55, 65, 81, 255)  # slate: "off", without alarm
PROTOCOL_BADGE = (14, 165, 233, 255)  # sky blue on the chilled tile: rest and ice packs, not alarm
BADGE_MARK = (255, 255, 255, 255)
PAUSE_RIM = (229, 231, 235, 255)  # light rim: the dark badge stays visible on a dark panel
PROTOCOL_RIM = (224, 242, 254, 255)  # frost rim: the blue badge stays visible on a dark panel


def icon_outputs(root: Path) -> list[Path]:
    """Every file `build` writes under `root`, so a test can check that each one exists."""
    out = [root / "assets/icons" / state / f"{n}x{n}.png" for state in STATES for n in SIZES]
    out += [root / "assets/icons" / f"{APP_ID}.ico", root / "assets/icons" / f"{APP_ID}.icns"]
    out += [root / "assets/icons/hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in HICOLOR_SIZES]
    out += [root / "posture_agent/data/icons" / f"{state}.png" for state in STATES]
    out += [root / "posture_agent/data/icons" / f"{state}.pixmaps" for state in STATES]
    return out


def load_source(path: Path) -> Image.Image:
    img = Image.open(path).convert("RGBA")
    if img.width != img.height or img.width < MASTER:
        raise SystemExit(f"{path}: the source must be square and at least {MASTER} px (it is {img.width}×{img.height})")
    return img if img.width == MASTER else img.resize((MASTER, MASTER), Image.Resampling.LANCZOS)


def _badge_box() -> tuple[float, float, float, float]:
    """Bottom-right, 46 % of the icon: big enough to tell the states apart at 16 px."""
    d = MASTER * 0.46
    return (MASTER - d, MASTER - d, MASTER, MASTER)


Colour = tuple[int, int, int, int]


def _with_badge(base: Image.Image, fill: Colour, rim_colour: Colour, mark: str) -> Image.Image:
    img = base.copy()
    x0, y0, x1, y1 = _badge_box()
    gap = MASTER * 0.035
    # Cut a transparent ring around the badge so it separates from the tile on any panel colour.
    alpha = img.getchannel("A")
    ImageDraw.Draw(alpha).ellipse((x0 - gap, y0 - gap, x1 + gap, y1 + gap), fill=0)
    img.putalpha(alpha)
    d = ImageDraw.Draw(img)
    rim = MASTER * 0.035
    d.ellipse((x0, y0, x1, y1), fill=rim_colour)
    d.ellipse((x0 + rim, y0 + rim, x1 - rim, y1 - rim), fill=fill)
    cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0
    if mark == "pause":
        bar_w, bar_h, space = w * 0.15, w * 0.48, w * 0.12
        for left in (cx - space / 2 - bar_w, cx + space / 2):
            bar = (left, cy - bar_h / 2, left + bar_w, cy + bar_h / 2)
            d.rounded_rectangle(bar, radius=bar_w * 0.25, fill=BADGE_MARK)
    else:
        _snowflake(d, cx, cy, w)
    return img


def _snowflake(d: ImageDraw.ImageDraw, cx: float, cy: float, w: float) -> None:
    """Six arms, each with a small V near its tip: "ice" at 64 px, a six-pointed star at 16 px
    (never a "+", which reads as "add")."""
    arm, stroke = w * 0.34, w * 0.085
    for k in range(6):
        angle = math.pi / 2 + k * math.pi / 3
        dx, dy = math.cos(angle), -math.sin(angle)
        tip = (cx + dx * arm, cy + dy * arm)
        d.line([(cx, cy), tip], fill=BADGE_MARK, width=round(stroke))
        r = stroke / 2
        d.ellipse((tip[0] - r, tip[1] - r, tip[0] + r, tip[1] + r), fill=BADGE_MARK)
        fork = (cx + dx * arm * 0.6, cy + dy * arm * 0.6)
        for side in (-1, 1):
            branch = angle + side * math.pi / 4
            end = (fork[0] + math.cos(branch) * arm * 0.32, fork[1] - math.sin(branch) * arm * 0.32)
            d.line([fork, end], fill=BADGE_MARK, width=round(stroke * 0.8))
    d.ellipse((cx - stroke * 0.8, cy - stroke * 0.8, cx + stroke * 0.8, cy + stroke * 0.8), fill=BADGE_MARK)


def _desaturate(img: Image.Image) -> Image.Image:
    """Grey, a little lighter and flatter: reads as "off" while the runner stays visible."""
    grey = img.convert("L").point(lambda v: round(40 + v * 0.84))
    out = Image.merge("RGBA", (grey, grey, grey, img.getchannel("A")))
    return out


def _chill(img: Image.Image) -> Image.Image:
    """The source recoloured in cold blues (its light parts stay light): "resting, ice" at a glance,
    at any size, before the badge is even made out."""
    grey = img.convert("L")
    dark, light = (0, 45, 120), (240, 248, 255)
    # a curve that keeps the tile's mid tones deep: the white figure stays clear on it
    bands = [
        grey.point(lambda v, a=a, b=b: round(a + (b - a) * (v / 255) ** 1.6)) for a, b in zip(dark, light, strict=True)
    ]
    return Image.merge("RGBA", (*bands, img.getchannel("A")))


def state_master(source: Image.Image, state: str) -> Image.Image:
    if state == "normal":
        return source.copy()
    if state == "paused":
        return _with_badge(_desaturate(source), PAUSE_BADGE, PAUSE_RIM, "pause")
    if state == "protocol":
        return _with_badge(_chill(source), PROTOCOL_BADGE, PROTOCOL_RIM, "snowflake")
    raise ValueError(f"unknown icon state {state!r}; known: {', '.join(STATES)}")


def scaled(master: Image.Image, size: int) -> Image.Image:
    return master if size == master.width else master.resize((size, size), Image.Resampling.LANCZOS)


def _save_png(img: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=True)
    return path


def build(root: Path = ROOT, source: Path | None = None) -> list[Path]:
    """Write every output under `root`; returns the files written."""
    src = load_source(source or ROOT / SOURCE)
    written: list[Path] = []
    masters = {state: state_master(src, state) for state in STATES}
    for state, master in masters.items():
        for n in SIZES:
            written.append(_save_png(scaled(master, n), root / "assets/icons" / state / f"{n}x{n}.png"))
        written.append(_save_png(scaled(master, RUNTIME_SIZE), root / "posture_agent/data/icons" / f"{state}.png"))
        pixmaps = root / "posture_agent/data/icons" / f"{state}.pixmaps"
        pixmaps.write_bytes(encode_pixmaps(pixmaps_from_images([scaled(master, n) for n in PIXMAP_SIZES])))
        written.append(pixmaps)
    app = masters["normal"]
    for n in HICOLOR_SIZES:
        written.append(_save_png(scaled(app, n), root / "assets/icons/hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png"))
    ico = root / "assets/icons" / f"{APP_ID}.ico"
    ico_images = [scaled(app, n) for n in ICO_SIZES]
    ico_images[-1].save(ico, format="ICO", sizes=[(n, n) for n in ICO_SIZES], append_images=ico_images[:-1])
    icns = root / "assets/icons" / f"{APP_ID}.icns"
    icns_images = [scaled(app, n) for n in ICNS_SIZES]
    icns_images[-1].save(icns, format="ICNS", append_images=icns_images[:-1])
    written += [ico, icns]
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=ROOT, help="write the outputs under this folder")
    parser.add_argument("--source", type=Path, default=None, help=f"source image (default: {SOURCE})")
    args = parser.parse_args()
    files = build(args.root, args.source)
    print(f"wrote {len(files)} icon files under {args.root}")


if __name__ == "__main__":
    main()
