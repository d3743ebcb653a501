"""The first start's welcome without a display: when it is due, that it is shown once, and that
the prompt windows due at start wait behind it (`OneAtATime.hold`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posture_agent.agent.events import ActivePrompt
from posture_agent.config import ensure_config
from posture_agent.domain.plan import Prompt, PromptKind
from posture_agent.paths import Paths
from posture_agent.prompt_windows import OneAtATime
from posture_agent.welcome import is_first_start, mark_shown

NOW = datetime(2026, 11, 24, 18, 47, tzinfo=UTC)


def test_a_first_start_is_one_with_no_config_file_and_the_welcome_is_shown_once(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path / "home")
    assert is_first_start(paths)
    mark_shown(paths)
    assert not is_first_start(paths), "recorded as shown: not again, even with no config file"

    copied = Paths.resolve(tmp_path / "copied")
    ensure_config(copied.config_file)  # a config written before the first start: chosen already
    assert not is_first_start(copied)


def test_prompt_windows_due_at_start_wait_behind_the_welcome() -> None:
    shown: list[str] = []
    traced: list[tuple[str, dict[str, Any]]] = []
    screen = OneAtATime(lambda event, **data: traced.append((event, data)))
    drills = ActivePrompt("p-1", Prompt(NOW, PromptKind.DRILLS), NOW)
    assert screen.hold("welcome")
    screen.offer(drills, lambda: shown.append("drills"))
    assert shown == [] and traced == [("waiting", {"prompt": "p-1", "kind": "drills", "behind": "welcome"})]
    assert not screen.hold("welcome"), "one window holds the screen at a time"
    screen.gone("p-0")  # another window going does not free the screen
    assert shown == []
    screen.gone("welcome")
    assert shown == ["drills"] and screen.current == drills
    assert not screen.hold("welcome"), "a prompt's window is on screen"
