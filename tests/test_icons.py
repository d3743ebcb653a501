"""The icons: every size and format exists, each is what `assets/build_icons.py` makes from the one
source image today (so a designer's change cannot be half-applied), and the tray loads its three
states from the installed package."""

from __future__ import annotations

import importlib.util
import io
import tomllib
import zlib
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image, ImageChops, ImageStat

from posture_agent.ui.icon import PIXMAP_SIZES, decode_pixmaps, encode_pixmaps, pixmaps_from_images, tray_pixmaps

ROOT = Path(__file__).resolve().parent.parent


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_icons", ROOT / "assets" / "build_icons.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = load_builder()


def max_difference(a: Image.Image, b: Image.Image) -> int:
    """Largest channel difference between two RGBA images (0 = identical pixels)."""
    assert a.size == b.size
    extrema = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getextrema()
    return max(hi for _, hi in extrema)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("icons")
    builder.build(root)
    return root


def test_every_size_and_format_is_committed() -> None:
    missing = [str(p.relative_to(ROOT)) for p in builder.icon_outputs(ROOT) if not p.is_file()]
    assert not missing, f"run `python assets/build_icons.py`; missing: {missing}"
    for state in builder.STATES:
        for n in builder.SIZES:
            with Image.open(ROOT / "assets/icons" / state / f"{n}x{n}.png") as img:
                assert (img.format, img.size, img.mode) == ("PNG", (n, n), "RGBA")


def test_committed_icons_are_up_to_date_with_the_source(rebuilt: Path) -> None:
    stale = []
    for fresh in builder.icon_outputs(rebuilt):
        if fresh.suffix != ".png":
            continue
        committed = ROOT / fresh.relative_to(rebuilt)
        with Image.open(fresh) as a, Image.open(committed) as b:
            if a.size != b.size or max_difference(a, b) > 2:
                stale.append(str(committed.relative_to(ROOT)))
    assert not stale, f"stale icons, run `python assets/build_icons.py`: {stale}"


def pixmap_images(path: Path) -> list[Image.Image]:
    """A `.pixmaps` file's sizes as RGBA images (ARGB32 in network byte order turned back)."""
    images = []
    for w, h, argb in decode_pixmaps(path.read_bytes()).sizes:
        rgba = bytearray(len(argb))
        rgba[0::4], rgba[1::4], rgba[2::4], rgba[3::4] = argb[1::4], argb[2::4], argb[3::4], argb[0::4]
        images.append(Image.frombytes("RGBA", (w, h), bytes(rgba)))
    return images


def test_tray_pixmaps_are_the_states_in_every_size_and_up_to_date(rebuilt: Path) -> None:
    """The StatusNotifierItem tray's pixels: every size, the same as the PNG of that size, and
    what the builder makes today; the 64 px one is the runtime PNG itself."""
    for state in builder.STATES:
        committed = pixmap_images(ROOT / "posture_agent/data/icons" / f"{state}.pixmaps")
        fresh = pixmap_images(rebuilt / "posture_agent/data/icons" / f"{state}.pixmaps")
        assert [img.width for img in committed] == list(PIXMAP_SIZES)
        for old, new in zip(committed, fresh, strict=True):
            assert max_difference(old, new) <= 2, f"stale {state}.pixmaps: run `python assets/build_icons.py`"
            with Image.open(ROOT / "assets/icons" / state / f"{old.width}x{old.width}.png") as png:
                assert max_difference(old, png) <= 2, f"{state} {old.width} px differs from its PNG"
        assert tray_pixmaps(state).sizes == decode_pixmaps(
            (ROOT / "posture_agent/data/icons" / f"{state}.pixmaps").read_bytes()).sizes


def test_pixmaps_from_an_image_are_argb_in_network_order() -> None:
    image = Image.new("RGBA", (2, 1), (10, 20, 30, 40))
    image.putpixel((1, 0), (1, 2, 3, 255))
    (only,) = pixmaps_from_images([image]).sizes
    assert only == (2, 1, bytes([40, 10, 20, 30, 255, 1, 2, 3]))
    assert decode_pixmaps(encode_pixmaps(pixmaps_from_images([image]))).sizes == (only,)
    with pytest.raises(ValueError, match="does not fit"):
        decode_pixmaps(zlib.compress(b"\0\0\0\x40\0\0\0\x40" + b"\0" * 10))


def test_ico_holds_every_windows_size_from_the_source(rebuilt: Path) -> None:
    committed = ROOT / "assets/icons/posture-agent.ico"
    with Image.open(committed) as ico:
        assert ico.format == "ICO"
        assert set(ico.info["sizes"]) == {(n, n) for n in builder.ICO_SIZES}
        for n in builder.ICO_SIZES:
            ico.size = (n, n)
            ico.load()
            with Image.open(ROOT / "assets/icons/normal" / f"{n}x{n}.png") as png:
                assert max_difference(ico, png) <= 2, f"{n} px in the .ico differs from the PNG"
    assert (rebuilt / "assets/icons/posture-agent.ico").read_bytes() == committed.read_bytes()


# ICNS element types (Apple's icon family format) and the pixel size each one must hold.
ICNS_TYPES = {b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512,
              b"ic10": 1024, b"ic11": 32, b"ic12": 64, b"ic13": 256, b"ic14": 512}


def icns_elements(data: bytes) -> dict[bytes, bytes]:
    """The elements of an .icns file, read from its container format directly."""
    assert data[:4] == b"icns" and int.from_bytes(data[4:8], "big") == len(data)
    out, pos = {}, 8
    while pos < len(data):
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        out[kind] = data[pos + 8 : pos + length]
        pos += length
    return out


def test_icns_holds_every_macos_size_from_the_source(rebuilt: Path) -> None:
    committed = ROOT / "assets/icons/posture-agent.icns"
    elements = icns_elements(committed.read_bytes())
    pixel_sizes = set()
    for kind, payload in elements.items():
        if kind not in ICNS_TYPES:
            continue
        with Image.open(io.BytesIO(payload)) as img, Image.open(
            ROOT / "assets/icons/normal" / f"{img.width}x{img.width}.png"
        ) as png:
            assert img.size == (ICNS_TYPES[kind],) * 2, kind
            assert max_difference(img, png) <= 2, f"{kind!r} differs from the PNG of its size"
            pixel_sizes.add(img.width)
    assert pixel_sizes == set(builder.ICNS_SIZES)  # 16 px is drawn by macOS from the 32 px (ic11)
    fresh = icns_elements((rebuilt / "assets/icons/posture-agent.icns").read_bytes())
    assert set(fresh) == set(elements)


def test_hicolor_layout_for_the_linux_menu() -> None:
    for n in builder.HICOLOR_SIZES:
        path = ROOT / "assets/icons/hicolor" / f"{n}x{n}" / "apps" / "posture-agent.png"
        with Image.open(path) as img:
            assert img.size == (n, n)


def test_the_three_tray_states_load_from_the_package_and_look_different() -> None:
    icons = resources.files("posture_agent.data") / "icons"
    images = {}
    for state in builder.STATES:
        with resources.as_file(icons / f"{state}.png") as path, Image.open(path) as img:
            img.load()
            assert img.size == (builder.RUNTIME_SIZE, builder.RUNTIME_SIZE) and img.mode == "RGBA"
            images[state] = img.copy()
    normal, paused, protocol = images["normal"], images["paused"], images["protocol"]
    # Paused is grey: the tile's colour is gone (compare saturation in the top-left, away from the badge).
    corner = (8, 8, 24, 24)
    sat_normal = ImageStat.Stat(normal.crop(corner).convert("HSV")).mean[1]
    sat_paused = ImageStat.Stat(paused.crop(corner).convert("HSV")).mean[1]
    assert sat_normal > 100 and sat_paused < 10
    # Protocol (resting, ice) turns the tile a deep blue and adds a sky-blue snowflake badge
    # bottom-right: no "+" that reads as "add".
    badge = protocol.getpixel((57, 57))  # on the badge, beside the snowflake
    assert isinstance(badge, tuple)
    r, g, b, alpha = badge
    assert alpha == 255 and r < 80 and 130 < g < 200 and b > 200, badge
    tile = ImageStat.Stat(protocol.crop(corner).convert("RGB")).mean
    assert tile[2] > tile[1] + 40 and tile[2] > tile[0] + 80, f"a blue tile, not teal: {tile}"


def test_package_data_ships_the_icons() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = data["tool"]["setuptools"]["package-data"]["posture_agent.data"]
    assert "icons/*.png" in shipped and "icons/*.pixmaps" in shipped


def test_a_designer_change_to_the_source_changes_every_output(tmp_path: Path) -> None:
    """The outputs really come from the one source: repaint it, and every state follows."""
    with Image.open(ROOT / builder.SOURCE) as src:
        changed = src.convert("RGBA")
    changed.paste((200, 30, 60, 255), (300, 300, 700, 700))
    source = tmp_path / "changed.png"
    changed.save(source)
    builder.build(tmp_path / "out", source)
    for state in builder.STATES:
        with Image.open(tmp_path / "out/assets/icons" / state / "256x256.png") as new, Image.open(
            ROOT / "assets/icons" / state / "256x256.png"
        ) as old:
            assert max_difference(new, old) > 50
