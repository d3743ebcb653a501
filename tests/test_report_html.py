"""The HTML report rendered by a real headless Chromium: the page is self-contained, its charts are in
the DOM, the screenshot is a real picture, not a blank page, and at 1280 × 800 (light and dark) the
answer, the advice and this week's cards are on the first screen, for a two-week user who imported
old runs, a 12-week user on the SI protocol and a five-year user."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import write as write_synthetic
from posture_agent.clock import FixedClock
from posture_agent.domain.records import REGIONS
from tests.conftest import Cli
from tests.importers.conftest import real_data_dir

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
CHART_IDS = ("chart-slouch-2026-W48", "chart-month-2026-W48", "chart-year", "chart-weekday", "chart-hour",
             "chart-timeline", "chart-runs")


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


class Page:
    """One page in a headless Chromium driven over the DevTools protocol on a pipe
    (`--remote-debugging-pipe`: JSON messages ending in NUL, read on fd 3, written on fd 4), so a test
    can set an exact viewport, ask the layout where an element is, and take a full-page screenshot
    without any browser-automation package."""

    def __init__(self, tmp: Path, width: int = 1280, height: int = 800) -> None:
        profile = tmp / "chromium-cdp-profile"
        profile.mkdir(exist_ok=True)
        to_browser, self._send_fd = os.pipe()
        self._recv_fd, from_browser = os.pipe()

        def wire() -> None:  # in the child, before exec: its fds 3 and 4 are the pipe ends
            # moved above 10 first: an end that already is 3 or 4 would be clobbered, or kept close-on-exec
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=without_libfaketime(), preexec_fn=wire, close_fds=False,  # closing would undo wire()
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.width, self.height = width, height
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.enable", session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._recv_fd], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer over its DevTools pipe")
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def call(self, method: str, session: bool = False, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def open(self, page: Path, timeout: float = 60) -> None:
        self._events = []
        self.call("Page.navigate", session=True, url=page.resolve().as_uri())
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._events.append(self._read(deadline))

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return answer["result"].get("value")

    def box(self, selector: str) -> dict[str, float]:
        """The element's bounding box in CSS pixels, relative to the top of the page."""
        box: dict[str, float] = self.evaluate(
            f"(() => {{ const b = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return {top: b.top + scrollY, bottom: b.bottom + scrollY, left: b.left, right: b.right}; })()"
        )
        return box

    def screenshot(self, target: Path) -> None:
        """The whole page, `width` wide, as one PNG."""
        full = self.evaluate("document.documentElement.scrollHeight")
        shot = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": self.width, "height": full, "scale": 1})
        target.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send_fd)
        os.close(self._recv_fd)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Page]:
    """A headless Chromium with a 1280 × 800 viewport (skips, naming what is missing, without one)."""
    chromium()
    tab = Page(tmp_path)
    try:
        yield tab
    finally:
        tab.close()


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
    assert "<link" not in text.lower() and "@import" not in text
    # one inline script (saving a chart), no script file and nothing fetched
    assert text.lower().count("<script") == 1 and "<script src" not in text.lower()
    assert "fetch(" not in text and "XMLHttpRequest" not in text
    # the only URLs are XML namespace names inside the SVG, never fetched
    urls = set(re.findall(r"https?://[^\s\"')]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)
    for chart in CHART_IDS:
        assert f'id="{chart}"' in text
    assert "(prefers-color-scheme: dark)" in text and "@media print" in text
    assert text.count('class="save"') == text.count("<figure")  # every chart can be saved on its own
    assert "not a cause" in text and "Not medical advice" in text


@pytest.mark.browser
def test_html_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    dom = render(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<h1>Posture and running: week 2026-W48</h1>" in html
    for chart in CHART_IDS:
        assert re.search(rf'<svg[^>]*id="{chart}"', html), f"{chart} missing from the rendered DOM"
    assert html.count("<figure") == 5 + 2 * 52  # the shared charts, and two per week of the year shown
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
    assert 'id="chart-year"' in page.read_text(encoding="utf-8")


FIRST_SCREEN = 800


def keep_screenshot(shot: Path) -> None:
    folder = os.environ.get("POSTURE_AGENT_SCREENSHOT_DIR")
    if folder:
        shutil.copy(shot, Path(folder) / shot.name)


def chart(html: str, key: str) -> str:
    start = html.index(f'id="{key}"')
    return html[start:html.index("</svg>", start)]


@pytest.fixture
def two_week_page(cli: Cli, clock: FixedClock, tmp_path: Path) -> Path:
    """A user who started on Monday of last week and imported the real activity files (runs from
    2013 to 2020) on the first day: the imports plan no drills."""
    folder = real_data_dir()
    if folder is None:
        pytest.skip("real activity files not found: set POSTURE_AGENT_REAL_DATA or put them in "
                    "../shared/real-data/activities beside the checkout")
    write_synthetic(cli.home, date(2026, 11, 16), date(2026, 11, 25), seed=3, until=clock.now())
    files = sorted(str(p) for p in folder.iterdir() if p.suffix in (".fit", ".gpx", ".tcx", ".gz"))
    cli("run", "import", *files)  # the corrupt ones are refused, one by one; the others are kept
    assert cli.ok("run", "list", "--json").json(), "no real activity was imported"
    target = tmp_path / "report-two-weeks.html"
    cli.ok("report", "--html", str(target))
    return target


@pytest.fixture
def twelve_week_page(cli: Cli, clock: FixedClock, tmp_path: Path) -> Path:
    """Twelve weeks, with an SI joint (and a lower back) sore on Monday: day 3 of the SI protocol."""
    write_synthetic(cli.home, date(2026, 9, 7), date(2026, 11, 25), seed=3, until=clock.now())
    cli.ok("run", "add", "--distance-km", "8", "--duration", "45m", "--at", "2026-11-23T07:00")
    cli.ok("soreness", "--si-joint", "5", "--lower-back", "4", "--at", "2026-11-23T10:00", "--form", "arms_high")
    target = tmp_path / "report-twelve-weeks.html"
    cli.ok("report", "--html", str(target))
    return target


@pytest.fixture
def five_year_page(cli: Cli, clock: FixedClock, tmp_path: Path) -> Path:
    write_synthetic(cli.home, date(2021, 11, 26), date(2026, 11, 25), seed=5, until=clock.now())
    target = tmp_path / "report-five-years.html"
    cli.ok("report", "--html", str(target))
    return target


def assert_leads_with_this_week(browser: Page, page: Path, tmp_path: Path) -> None:
    """In light and in dark: the answer, the advice and the cards fit the first 1280 × 800 screen,
    before any chart; a full-page screenshot of each is kept."""
    for scheme in ("light", "dark"):
        browser.call("Emulation.setEmulatedMedia", session=True,
                     features=[{"name": "prefers-color-scheme", "value": scheme}])
        browser.open(page)
        assert browser.evaluate("[innerWidth, innerHeight]") == [1280, FIRST_SCREEN]
        background = browser.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(22, 24, 28)"), background
        reply, cards, advice = browser.box("#answer"), browser.box("#key-figures"), browser.box("#advice")
        assert reply["top"] < advice["top"] < cards["top"], "the answer, then the advice, then the cards"
        for name, box in (("answer", reply), ("cards", cards), ("advice", advice)):
            assert box["bottom"] <= FIRST_SCREEN, f"the {name} end at {box['bottom']} px, below the first screen"
        first_chart = browser.box("section.week.current figure")
        assert first_chart["top"] > cards["bottom"], "a chart comes before the cards"
        shot = tmp_path / f"{page.stem}-{scheme}.png"
        browser.screenshot(shot)
        from PIL import Image

        with Image.open(shot) as image:
            assert image.size[0] == 1280 and image.size[1] > FIRST_SCREEN
        keep_screenshot(shot)


def visible_weeks(browser: Page) -> list[str]:
    answer: list[str] = browser.evaluate(
        "[...document.querySelectorAll('section.week')].filter(s => s.offsetParent !== null).map(s => s.id)")
    return answer


@pytest.mark.browser
def test_two_week_user_who_imported_old_runs(browser: Page, two_week_page: Path, tmp_path: Path) -> None:
    assert_leads_with_this_week(browser, two_week_page, tmp_path)
    html = two_week_page.read_text(encoding="utf-8")
    assert "2 weeks of history, since Mon 16 Nov 2026" in html, "imported runs moved the plan back"
    assert re.findall(r'<section class="week[^"]*" id="([^"]+)"', html) == ["2026-W47", "2026-W48"]
    assert "the first week of your history" in html
    answer = browser.evaluate("document.querySelector('#answer').innerText")
    assert "Not known yet" in answer and "more run" in answer and "3 check-ins in the 48 h before" in answer


@pytest.mark.browser
def test_twelve_week_user_on_the_si_protocol(browser: Page, twelve_week_page: Path, tmp_path: Path) -> None:
    assert_leads_with_this_week(browser, twelve_week_page, tmp_path)
    cards = browser.evaluate("[...document.querySelectorAll('#key-figures .card')].map(c => c.innerText)")
    assert "si-joint protocol" in cards[0].lower() and "day 3 of 15" in cards[0], cards
    assert "ice at 12:30, 20:30" in cards[0] and "no running; running again" in cards[0]
    assert any("pelvic tilts" in c.lower() and "until" in c for c in cards), cards
    assert any("from last week" in c and ("▲" in c or "▼" in c) for c in cards), cards
    advice = browser.evaluate("document.querySelector('#advice').innerText")
    assert "SI-joint protocol, day 3 of 15" in advice and "Ice the SI joint" in advice
    assert "not medical advice" in advice
    assert "12 weeks of history" in browser.evaluate("document.querySelector('#history').innerText")
    # the runs of the week show the form self-check beside their scores
    assert "arms high or tight" in browser.evaluate("document.querySelector('section.week.current').innerText")
    # the previous week is one link away, and speaks of its own days
    assert visible_weeks(browser) == ["2026-W48"]
    browser.evaluate("document.querySelector('section.week.current a[rel=prev]').click()")
    assert visible_weeks(browser) == ["2026-W47"]
    text = browser.evaluate("document.getElementById('2026-W47').innerText")
    assert "What applied that week" in text and "today" not in text.lower()
    # "Save this chart" hands over that chart alone, with the colours it is shown in
    saved = browser.call("Runtime.evaluate", session=True, awaitPromise=True, returnByValue=True, expression="""
        (async () => {
          window.addEventListener('click', e => e.preventDefault());  // no download dialog in the test
          const a = document.querySelector('a.save[data-chart="chart-year"]');
          a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
          return [a.href.slice(0, 5), a.getAttribute('download'), await (await fetch(a.href)).text()];
        })()""")["result"]["value"]
    assert saved[0] == "blob:" and saved[1].endswith(".svg")
    assert saved[2].startswith("<svg") and 'id="chart-year"' in saved[2] and "<style" in saved[2]
    assert "--all:#4a9ee0" in saved[2], "the colours it is shown in (dark, the last scheme shown)"
    assert saved[2].count("<svg") == 1
    # printed: light colours even in dark mode, no links, the displayed week only
    browser.call("Emulation.setEmulatedMedia", session=True, media="print",
                 features=[{"name": "prefers-color-scheme", "value": "dark"}])
    assert browser.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    assert browser.evaluate("[...document.querySelectorAll('a.save, nav.weeks a')]"
                            ".filter(a => a.offsetParent !== null).length") == 0
    assert visible_weeks(browser) == ["2026-W47"]


@pytest.mark.browser
def test_five_year_user(browser: Page, five_year_page: Path, tmp_path: Path) -> None:
    assert_leads_with_this_week(browser, five_year_page, tmp_path)
    html = five_year_page.read_text(encoding="utf-8")
    assert len(html.encode()) < 2_000_000
    assert "the last 52 are in this page" in html
    assert "older: posture-agent report --week 2025-W48 --html FILE" in html
    answer = browser.evaluate("document.querySelector('#answer .verdict').innerText")
    assert answer.startswith("Yes, for your"), answer


def test_a_past_week_never_says_today(cli: Cli, clock: FixedClock, tmp_path: Path) -> None:
    write_synthetic(cli.home, date(2026, 10, 26), date(2026, 11, 25), seed=3, until=clock.now())
    cli.ok("run", "add", "--distance-km", "8", "--duration", "45m", "--at", "2026-11-17T07:00")
    cli.ok("soreness", "--upper-back", "6", "--at", "2026-11-17T10:00")
    target = tmp_path / "past.html"
    cli.ok("report", "--week", "2026-W47", "--html", str(target))
    html = target.read_text(encoding="utf-8")
    current = html[html.index('class="week current"'):]
    current = current[:current.index("</section>\n")]
    assert "What applied that week" in current
    rest = re.search(r"<li>Extra rest days?: ([^<]*)</li>", current)
    assert rest and "Wed 18 Nov" in rest.group(1), current
    assert "today" not in current.lower() and "tomorrow" not in current.lower()
    assert "later: posture-agent report --week 2026-W48 --html FILE" in current
    text = cli.ok("report", "--week", "2026-W47").out
    assert "What applied that week" in text and "today" not in text.lower().replace("up to today", "")


def test_captions_describe_what_is_drawn(twelve_week_page: Path) -> None:
    html = twelve_week_page.read_text(encoding="utf-8")
    scatter = chart(html, "chart-runs")
    assert "<circle" in scatter and 'class="new"' in scatter
    caption = html[html.index("</svg>", html.index('id="chart-runs"')):]
    caption = caption[:caption.index("</figcaption>")]
    assert "Blue circles: earlier runs." in caption and "Orange diamonds: this week&#x27;s runs." in caption
    assert ("<polyline" in scatter) == ("line joins" in caption)


def test_a_caption_names_no_line_that_is_not_drawn() -> None:
    from posture_agent.domain import correlation as stats
    from posture_agent.report.charts import exposure_scatter

    empty = exposure_scatter([], {r: stats.Trend(r, None, 0, "none") for r in REGIONS}, [])
    assert "<polyline" not in empty.svg and "line" not in empty.caption and "No run" in empty.caption
