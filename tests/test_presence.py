"""The presence check and its backends through fakes: the Windows and macOS system calls, signals
that fail or are missing, and the config keys. The real X11 and D-Bus backends are exercised on the
virtual desktop in test_presence_desktop.py; calendars in test_presence_calendar.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from posture_agent.config import ConfigError, load_settings
from posture_agent.presence.base import PRESENT, Presence, PresenceCheck, SignalUnavailable, idle_reason
from posture_agent.presence.calendar import CalendarFile
from posture_agent.presence.desktop import signals
from posture_agent.presence.macos import MacIdle
from posture_agent.presence.windows import WindowsIdle, WindowsNotificationState
from tests.conftest import Cli

NOW = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


class Fixed:
    """A signal with a set answer (a reason, None, or an exception to raise)."""

    def __init__(self, kind: str, answer: str | Exception | None) -> None:
        self.kind, self.source, self.answer = kind, f"fake {kind}", answer
        self.reads = 0

    def away(self, now: datetime) -> str | None:
        self.reads += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_the_first_signal_that_says_away_gives_the_reason_and_the_rest_are_not_read() -> None:
    lock, idle = Fixed("lock", "screen locked"), Fixed("idle", "idle for 7 min")
    assert PresenceCheck([lock, idle])(NOW) == Presence(True, "screen locked", "lock")
    assert idle.reads == 0


def test_missing_or_failing_signals_take_the_user_as_present() -> None:
    check = PresenceCheck([Fixed("lock", SignalUnavailable("no bus")), Fixed("idle", RuntimeError("bug")),
                           Fixed("dnd", None)])
    assert check(NOW) == PRESENT
    assert PresenceCheck([])(NOW) == PRESENT
    offers = {o.kind: o for o in check.offers(NOW)}
    assert not offers["lock"].available and offers["lock"].detail == "no bus"
    assert not offers["idle"].available and "RuntimeError" in offers["idle"].detail
    assert offers["dnd"].available


def test_idle_wording() -> None:
    assert idle_reason(299, 300) is None
    assert idle_reason(300, 300) == "idle for 5 min"
    assert idle_reason(42, 30) == "idle for 42 s"


def test_windows_idle_and_notification_state_through_fakes() -> None:
    assert WindowsIdle(300, idle_ms=lambda: 299_000).away(NOW) is None
    assert WindowsIdle(300, idle_ms=lambda: 301_000).away(NOW) == "idle for 5 min"
    reasons = {state: WindowsNotificationState(query=lambda s=state: s).away(NOW) for state in range(1, 8)}
    assert reasons == {
        1: "screen locked", 2: "fullscreen window", 3: "fullscreen game", 4: "presentation",
        5: None, 6: "do not disturb", 7: "fullscreen app",
    }
    offer = PresenceCheck([WindowsNotificationState(query=lambda: 5)]).offers(NOW)[0]
    assert offer.available and offer.kinds == ("lock", "fullscreen", "dnd")


def test_macos_idle_through_a_fake() -> None:
    assert MacIdle(300, since_input=lambda: 12.5).away(NOW) is None
    assert MacIdle(300, since_input=lambda: 600.0).away(NOW) == "idle for 10 min"


def test_which_backends_each_platform_gets(tmp_path: Path) -> None:
    def sources(platform: str, env: dict[str, str], calendar: str = "") -> list[str]:
        signal = CalendarFile(calendar, UTC, tmp_path) if calendar else None
        return [s.source for s in signals(300, signal, env, platform)]

    x11 = sources("linux", {"DISPLAY": ":1"})
    assert "X11 XScreenSaver" in x11 and "X11 _NET_WM_STATE_FULLSCREEN" in x11
    assert "org.freedesktop.ScreenSaver" in x11 and "org.freedesktop.Notifications Inhibited" in x11
    wayland = sources("linux", {"DISPLAY": ":1", "WAYLAND_DISPLAY": "wayland-0"})
    assert "X11 XScreenSaver" not in wayland and "GNOME Mutter IdleMonitor" in wayland
    assert sources("win32", {}) == ["Windows SHQueryUserNotificationState", "Windows GetLastInputInfo"]
    assert sources("darwin", {}) == ["macOS CGEventSource"]
    assert sources("darwin", {}, str(tmp_path / "work.ics"))[-1] == "calendar file work.ics"


def test_presence_config_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    defaults = load_settings(config)
    assert (defaults.idle_minutes, defaults.calendar, defaults.hold_tentative) == (5, (), True)
    ics = tmp_path / "work.ics"
    config.write_text(f'[presence]\nidle_minutes = 10\ncalendar = "{ics}"\n', encoding="utf-8")  # one text, as before
    settings = load_settings(config)
    assert (settings.idle_minutes, settings.calendar) == (10, (str(ics),))
    config.write_text(f'[presence]\ncalendar = ["{ics}", "{tmp_path}", ""]\nhold_tentative = false\n', encoding="utf-8")
    settings = load_settings(config)
    assert (settings.calendar, settings.hold_tentative) == ((str(ics), str(tmp_path)), False)
    for text, key, line in (
        ("[presence]\nidle_minutes = 0\n", "presence.idle_minutes", 2),
        ('[presence]\n\ncalendar = "work.ics"\n', "presence.calendar", 3),
        (f'[presence]\ncalendar = ["{ics}", "rel/work.ics"]\n', "presence.calendar", 2),
        ('[presence]\ncalendar = ["/a.ics", 3]\n', "presence.calendar", 2),
        ('[presence]\nhold_tentative = "no"\n', "presence.hold_tentative", 2),
        ("[presence]\nidle = 5\n", "presence.idle", 2),
    ):
        config.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(config)
        assert f"line {line}: {key}:" in str(caught.value)


def presence_check_of(cli: Cli) -> dict[str, Any]:
    result = cli("doctor", "--json")
    return next(c for c in result.json()["checks"] if c["check"] == "presence")  # type: ignore[index]


def test_doctor_without_any_signal_says_prompts_are_shown_regardless(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no bus socket there
    check = presence_check_of(cli)
    assert check["ok"] is True
    assert check["detail"].startswith("offered: none; missing: idle, lock, fullscreen, dnd, calendar")
    assert check["detail"].endswith("prompts are shown whatever you are doing")


def test_doctor_shows_a_broken_calendar_event_in_one_line(cli: Cli, tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:tomorrow\nEND:VEVENT\nEND:VCALENDAR\n", encoding="utf-8")
    config = cli.home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'[presence]\ncalendar = "{ics}"\n', encoding="utf-8")
    checks = {c["check"]: c for c in cli("doctor", "--json").json()["checks"]}  # type: ignore[index]
    line = checks["calendar"]["detail"]  # the problem in icalendar's words
    assert checks["calendar"]["ok"] is False
    assert line.startswith("1 file read, 1 event, 1 skipped (work.ics:2: DTSTART: ") and "tomorrow" in line
    assert "prompts go on" in checks["calendar"]["fix"]
    assert checks["presence"]["ok"] is True
    result = cli("doctor")
    assert result.code == 1
    assert f"  BAD calendar       {line}" in result.out.splitlines()
