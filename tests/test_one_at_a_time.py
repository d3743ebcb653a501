"""One prompt window on screen at a time (prompts due together come one after another), and a drills
window left open all afternoon does not keep the day's check-ins off the screen (found by
benchmarks/day_bench.py: they waited behind it until they were too late)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from posture_agent.agent.events import ActivePrompt
from posture_agent.domain.plan import Prompt, PromptKind
from posture_agent.prompt_windows import BESIDE_AFTER_S, OneAtATime

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def prompt(pid: str, kind: PromptKind, context: str | None = None, minutes: int = 0) -> ActivePrompt:
    due = NOW + timedelta(minutes=minutes)
    return ActivePrompt(pid, Prompt(due, kind, context), due)


class Screen:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.seconds = 0.0
        self.one = OneAtATime(lambda event, **data: None, monotonic=lambda: self.seconds)

    def offer(self, active: ActivePrompt) -> None:
        self.one.offer(active, lambda: self.shown.append(active.id))


def test_a_checkin_is_shown_beside_an_open_drills_window_and_the_rest_wait_their_turn() -> None:
    screen = Screen()
    screen.offer(prompt("drills", PromptKind.DRILLS))
    screen.seconds += 45 * 60
    screen.offer(prompt("desk-1", PromptKind.CHECKIN, "desk", 45))
    assert screen.shown == ["drills", "desk-1"], "the check-in does not wait behind the drills"
    screen.offer(prompt("desk-2", PromptKind.CHECKIN, "desk", 90))
    screen.offer(prompt("back", PromptKind.SORENESS, minutes=95))
    assert screen.shown == ["drills", "desk-1"], "one check-in beside the drills, no more"
    screen.one.gone("desk-1")
    assert screen.shown == ["drills", "desk-1", "desk-2"]
    screen.one.gone("drills")  # the check-in beside it now has the screen; the soreness still waits
    assert screen.shown == ["drills", "desk-1", "desk-2"] and screen.one.current is not None
    assert screen.one.current.id == "desk-2"
    screen.one.gone("desk-2")
    assert screen.shown == ["drills", "desk-1", "desk-2", "back"]


def test_a_checkin_due_with_the_circuit_comes_after_it() -> None:
    """Due together (at start, after sleep): one after another, as before."""
    screen = Screen()
    screen.offer(prompt("circuit", PromptKind.CIRCUIT))
    screen.seconds += BESIDE_AFTER_S - 1
    screen.offer(prompt("sofa", PromptKind.CHECKIN, "sofa"))
    assert screen.shown == ["circuit"]
    screen.one.gone("circuit")
    assert screen.shown == ["circuit", "sofa"]


def test_windows_that_are_not_a_task_still_come_one_after_another() -> None:
    """A soreness window or a check-in holds the screen: nothing is shown beside them."""
    screen = Screen()
    screen.offer(prompt("back", PromptKind.SORENESS))
    screen.seconds += 3600
    screen.offer(prompt("sofa", PromptKind.CHECKIN, "sofa", 5))
    screen.offer(prompt("circuit", PromptKind.CIRCUIT, minutes=6))
    assert screen.shown == ["back"]
    screen.one.gone("back")
    assert screen.shown == ["back", "sofa"]
    screen.one.gone("sofa")
    assert screen.shown == ["back", "sofa", "circuit"]
