"""The virtual desktop itself works: a notification sent on its bus reaches its daemon."""

from __future__ import annotations

from tests.desktop import Desktop, desktop, wait_for

__all__ = ["desktop"]


def test_notification_reaches_daemon(desktop: Desktop) -> None:
    desktop.run("notify-send", "posture-agent test", "hello from the harness", check=True)
    assert wait_for(lambda: "hello from the harness" in desktop.notifications(), timeout=5)
    assert desktop.panel() is not None
