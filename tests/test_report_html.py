"""The HTML report rendered by a real headless Chromium: the page is self-contained, its four charts
are in the DOM, and the screenshot is a real picture, not a blank page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import write as write_synthetic
from posture_agent.clock import FixedClock
from tests.conftest import Cli

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
CHART_IDS = ("chart-slouch", "chart-drills", "chart-runs", "chart-weeks")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def render(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=90, check=False, env=without_libfaketime(),
    )


def without_libfaketime() -> dict[str, str]:
    """Chromium hangs under libfaketime (a suite run at a fake hour); the page is already written."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(p for p in env.get("LD_PRELOAD", "").split(":") if p and "libfaketime" not in p)
    return env


@pytest.fixture
def page(cli: Cli, clock: FixedClock, tmp_path: Path) -> Path:
    write_synthetic(cli.home, date(2025, 11, 1), date(2026, 11, 25), seed=3, until=clock.now())
    target = tmp_path / "report.html"
    result = cli.ok("report", "--html", str(target))
    assert f"HTML page: {target}" in result.out
    return target


@pytest.mark.browser
def test_html_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "<link" not in text.lower() and "@import" not in text
    # the only URLs are XML namespace names inside the SVG, never fetched
    urls = set(re.findall(r"https?://[^\s\"')]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)
    for chart in CHART_IDS:
        assert f'id="{chart}"' in text
    assert "Slouch rate (% of answered check-ins)" in text  # axis labels with units
    assert "Soreness after (0-10)" in text
    assert "not a cause" in text and "Not medical advice" in text


@pytest.mark.browser
def test_html_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    dom = render(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<h1>Posture and running: week 2026-W48</h1>" in html
    for chart in CHART_IDS:
        assert re.search(rf'<svg[^>]*id="{chart}"', html), f"{chart} missing from the rendered DOM"
    assert html.count("<figure") == 4
    shot = tmp_path / "report.png"
    result = render(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,900")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 900)
        colours: Any = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50, "the screenshot is (nearly) blank"
    keep = os.environ.get("POSTURE_AGENT_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_open_hands_the_page_to_the_default_browser(tmp_path: Path) -> None:
    """`--open` goes through `webbrowser`; BROWSER points it at a script that records what it got."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    record = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > "{record}"\n', encoding="utf-8")
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "POSTURE_AGENT_HOME": str(home)}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run([sys.executable, "-m", "posture_agent", "report", "--open"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    opened = record.read_text(encoding="utf-8").strip()
    assert opened.startswith("file://") and opened.endswith(".html")
    page = Path(opened.removeprefix("file://"))
    assert page.exists() and page.parent == home / "data" / "reports"
    assert 'id="chart-weeks"' in page.read_text(encoding="utf-8")
