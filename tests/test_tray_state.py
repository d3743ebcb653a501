"""What the tray says and which backend it picks, without a display."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from posture_agent.ui.icon import STATES, draw_fallback, tray_image
from posture_agent.ui.tray import TrayState, tray_state_from
from posture_agent.ui.tray_backend import TrayUnavailable, choose_backend
from tests.test_tray_desktop import ice

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)


def test_status_line_next_prompt_today_and_tomorrow() -> None:
    s = TrayState(now=NOW, next_prompt="check-in", next_at=datetime(2026, 11, 25, 12, 45, tzinfo=BERLIN))
    assert s.status_lines() == ["Next: check-in at 12:45"]
    assert s.icon_state == "normal"
    s = TrayState(now=NOW, next_prompt="drills", next_at=datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN))
    assert s.status_lines() == ["Next: drills at tomorrow 07:30"]


def test_status_line_across_dst_uses_local_wall_time() -> None:
    """The night Berlin's clocks go back, 07:30 the next morning is still shown as 07:30."""
    now = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    s = TrayState(now=now, next_prompt="drills", next_at=datetime(2026, 10, 25, 7, 30, tzinfo=BERLIN))
    assert s.status_lines() == ["Next: drills at tomorrow 07:30"]


def test_paused_protocol_and_rest_day() -> None:
    paused = TrayState(now=NOW, paused_until=datetime(2026, 11, 25, 13, 0, tzinfo=BERLIN), protocol_day=3,
                       next_prompt="check-in", next_at=NOW)
    assert paused.icon_state == "paused"
    assert paused.status_lines() == ["Paused until 13:00", "SI protocol day 3 of 15: no running"]
    protocol = TrayState(now=NOW, protocol_day=3, rest_day=True, running_again=date(2026, 12, 8))
    assert protocol.icon_state == "protocol"
    assert protocol.status_lines() == ["SI protocol day 3 of 15: no running (running again Tue 08 Dec)"]
    rest = TrayState(now=NOW, rest_day=True, next_prompt="check-in",
                     next_at=datetime(2026, 11, 25, 12, 45, tzinfo=BERLIN))
    assert rest.status_lines() == ["Rest day: no running today", "Next: check-in at 12:45"]
    assert TrayState(now=NOW).status_lines() == ["No prompts planned"]


def test_icons_differ_by_state() -> None:
    images = {s: tray_image(s).tobytes() for s in STATES}
    assert len(set(images.values())) == 3
    paused = draw_fallback("paused")
    assert paused.getpixel((20, 32))[:3] == (128, 134, 140), "paused is grey"

    def count(state: str, match: Callable[[int, int, int], bool]) -> int:
        raw = tray_image(state).convert("RGBA").tobytes()
        pixels = zip(raw[0::4], raw[1::4], raw[2::4], raw[3::4], strict=True)
        return sum(1 for r, g, b, a in pixels if a > 200 and match(r, g, b))


    def neutral(r: int, g: int, b: int) -> bool:
        return max(r, g, b) - min(r, g, b) < 25 and 80 < r < 170

    assert count("protocol", ice) > 30 and count("normal", ice) == 0, "the protocol badge is ice blue"
    assert count("paused", neutral) > 500 and count("normal", neutral) < 50, "paused is grey"
    with pytest.raises(ValueError, match="unknown tray state"):
        tray_image("sleepy")


def test_no_display_says_so() -> None:
    with pytest.raises(TrayUnavailable, match="no graphical desktop"):
        choose_backend("linux", {})


def test_xorg_backend_is_refused_with_the_fix() -> None:
    with pytest.raises(TrayUnavailable) as caught:
        choose_backend("linux", {"DISPLAY": ":9", "PYSTRAY_BACKEND": "xorg"})
    message = str(caught.value)
    assert "without a menu" in message and "PyGObject" in message and "AppIndicator" in message


def test_without_pygobject_the_fix_is_named() -> None:
    """A Python that cannot import gi (as on a stock install without the gtk-tray extra)."""
    code = (
        "import sys; sys.modules['gi'] = None\n"
        "from posture_agent.ui.tray_backend import choose_backend, TrayUnavailable\n"
        "try:\n    choose_backend('linux', {'DISPLAY': ':9'})\n"
        "except TrayUnavailable as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "the tray menu cannot work on this desktop" in out
    assert "gir1.2-ayatanaappindicator3-0.1" in out and "--no-tray" in out


def test_ui_modules_import_without_display_or_tk() -> None:
    """The CLI imports nothing graphical: the tray modules load without Tk or pystray."""
    code = (
        "import os, sys; os.environ.pop('DISPLAY', None)\n"
        "import posture_agent.ui.tray, posture_agent.ui.icon, posture_agent.prompt_windows\n"
        "import posture_agent.ui.settings_file\n"
        "bad = [m for m in ('tkinter', 'pystray', 'gi', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_state_from_the_agents_status() -> None:
    """The agent's Status (read by attribute) becomes what the tray shows, in local time."""
    from datetime import UTC
    from types import SimpleNamespace

    status = SimpleNamespace(
        now=datetime(2026, 11, 25, 11, 0, tzinfo=UTC),
        next_prompt=SimpleNamespace(kind="circuit", due=datetime(2026, 11, 25, 17, 30, tzinfo=UTC)),
        paused_until=None, rest_today=True, si_protocol_day=None, notifications_ok=False,
    )
    state = tray_state_from(status, BERLIN)
    assert state.icon_state == "normal"
    assert state.status_lines() == [
        "Rest day: no running today", "Next: strength circuit at 18:30",
        "Notifications are not working (see posture-agent doctor)",
    ]
    until = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    changed = {**vars(status), "paused_until": until, "notifications_ok": True, "rest_today": False}
    paused = tray_state_from(SimpleNamespace(**changed), BERLIN)
    assert paused.icon_state == "paused" and paused.status_lines() == ["Paused until tomorrow 00:00"]
