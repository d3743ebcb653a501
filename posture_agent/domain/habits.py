"""Per-habit figures the way Loop Habit Tracker shows them: a current and a best streak and a habit
score, for each drill, for the strength circuit and for all the drills of a day together.

The habit score is Loop's (uhabits-core `Score.compute` and `ScoreList.recompute`): every planned
day, `score = previous * m + checkmark * (1 - m)` with `m = 0.5 ** (sqrt(frequency) / 13)`, where
`frequency` is repetitions per day (1 for a daily drill, 2/7 for a circuit twice a week) and the
score starts at 0 on the habit's first planned day. A daily habit's checkmark is 1 when done that
day, else 0; for all drills it is the share of that day's planned drills done. For the circuit,
as Loop does for habits done less than daily, it is the share done over a rolling window of twice
the week (14 days): circuits recorded in the window / circuits planned in it (capped at 1), so a
circuit done a day late still counts. Days a habit is not planned (pelvic tilts outside their 14
days, a circuit weekday that was an extra rest day) are skipped: the score carries over, as Loop
does with a skip. One miss costs a daily habit 5.2 points of a full score; two weeks of misses
halve it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

HALF_LIFE = 13.0
"""Loop's constant: a daily habit's score halves after 13 days of misses."""
WINDOW_DAYS = 14
"""The rolling window for a habit done less than daily: Loop doubles the week to smooth it."""


def multiplier(frequency: float) -> float:
    """How much of the previous score a day keeps: 0.5 ** (sqrt(frequency) / 13)."""
    return float(0.5 ** (math.sqrt(frequency) / HALF_LIFE))


def next_score(previous: float, checkmark: float, frequency: float) -> float:
    """One day of Loop's score: previous * m + checkmark * (1 - m)."""
    m = multiplier(frequency)
    return previous * m + checkmark * (1 - m)


class Mark(NamedTuple):
    """One planned day (or circuit day) of a habit: how much of it was done (0..1) and whether it
    counts as kept for the streaks. A tuple: years of them are made for each page."""

    day: date
    value: float
    kept: bool


@dataclass(frozen=True)
class HabitFigures:
    name: str
    """A drill's name, "circuit" or "all-drills"."""
    unit: str
    """What the streaks count: "days", or "circuits" for the circuit."""
    frequency: float
    planned: int
    """Planned days (circuits) from the habit's first day up to `as_of`."""
    kept: int
    current_streak: int
    best_streak: int
    score: float | None
    """Loop's habit score at the end of `as_of` (0..1); None before the habit's first planned day."""
    score_before: float | None
    """The score seven days earlier, for the change over the week; None when not yet planned then."""
    first_day: date | None


def streaks(marks: Sequence[Mark], as_of: date) -> tuple[int, int]:
    """(current, best): consecutive kept marks. The current one ends at the last mark up to `as_of`,
    or at the one before it when that last one falls on `as_of` and is not kept yet (a day not
    yet done does not break it)."""
    best = run = 0
    for mark in marks:
        run = run + 1 if mark.kept else 0
        best = max(best, run)
    upto = [m for m in marks if m.day <= as_of]
    if upto and upto[-1].day == as_of and not upto[-1].kept:
        upto.pop()
    current = 0
    for mark in reversed(upto):
        if not mark.kept:
            break
        current += 1
    return current, best


def scores(marks: Sequence[Mark], frequency: float, days: Sequence[date]) -> list[float | None]:
    """The score at the end of each of `days` (sorted), None before the first mark."""
    out: list[float | None] = []
    score: float | None = None
    i = 0
    for day in days:
        while i < len(marks) and marks[i].day <= day:
            score = next_score(score or 0.0, marks[i].value, frequency)
            i += 1
        out.append(score)
    return out


def figures_at(name: str, unit: str, frequency: float, marks: Sequence[Mark], as_ofs: Sequence[date],
               first_day: date | None, today: date | None = None, streak_marks: Sequence[Mark] | None = None,
               ) -> list[HabitFigures]:
    """A habit's rows at the end of each of `as_ofs`, in one pass over its marks (years of days for
    a year of weeks). A mark on `today` that is not kept yet is left out (the day is not over);
    `streak_marks`, when the streaks count something else than the score's marks (the circuit's
    planned days)."""
    scored = [m for m in marks if not (m.day == today and not m.kept)]
    counted = scored if streak_marks is None else list(streak_marks)
    wanted = sorted({*as_ofs, *(d - timedelta(days=7) for d in as_ofs)})
    score_at = dict(zip(wanted, scores(scored, frequency, wanted), strict=True))
    return [
        HabitFigures(name, unit, frequency, planned, kept, current, best, score_at[as_of],
                     score_at[as_of - timedelta(days=7)], first_day)
        for as_of, (planned, kept, current, best) in zip(as_ofs, streaks_at(counted, as_ofs), strict=True)
    ]


def streaks_at(marks: Sequence[Mark], as_ofs: Sequence[date], counted_from: Sequence[date] | None = None,
               ) -> list[tuple[int, int, int, int]]:
    """(marks counted, kept, current streak, best streak) at the end of each of `as_ofs`, as
    `streaks` counts them, from prefix sums: one pass for any number of dates. `counted_from`: the
    (non-decreasing) day from which each mark counts, when not its own day (a circuit's turn counts
    once kept or closed)."""
    days = [m.day for m in marks] if counted_from is None else list(counted_from)
    run, best, kept = [0], [0], [0]
    for m in marks:
        run.append(run[-1] + 1 if m.kept else 0)
        best.append(max(best[-1], run[-1]))
        kept.append(kept[-1] + m.kept)
    out = []
    for as_of in as_ofs:
        n = bisect_right(days, as_of)
        pending = counted_from is None and n and days[n - 1] == as_of and not marks[n - 1].kept
        last = n - 1 if pending else n
        out.append((n, kept[n], run[last], best[n]))
    return out


def daily_marks(days: Sequence[date], planned: Sequence[bool], done: Sequence[float]) -> list[Mark]:
    """Marks of a daily habit: one per planned day, kept when fully done."""
    return [Mark(day, value, value >= 1.0) for day, p, value in zip(days, planned, done, strict=True) if p]


def circuit_figures_at(planned_days: Sequence[date], done_days: Sequence[date], first_day: date,
                       as_ofs: Sequence[date], frequency: float, today: date | None = None) -> list[HabitFigures]:
    """The circuit's rows at the end of each of `as_ofs` (see `circuit_marks`); the score marks are
    built once (a day's window never reaches past it), and so is each planned day's fate: the day
    a circuit kept it, and the day its turn closed."""
    last = max(as_ofs)
    score_marks, _ = circuit_marks(planned_days, done_days, first_day, last, with_streaks=False)
    every, done = sorted(planned_days), sorted(done_days)
    marks, decided = [], []
    for i, p in enumerate(every):
        closes = every[i + 1] if i + 1 < len(every) else date.max
        j = bisect_left(done, p)
        kept = j < len(done) and done[j] < closes
        marks.append(Mark(p, float(kept), kept))
        decided.append(done[j] if kept else closes)  # non-decreasing: the turns follow one another
    counts = streaks_at(marks, as_ofs, decided)
    scored = figures_at("circuit", "circuits", frequency, score_marks, as_ofs, first_day, today)
    return [HabitFigures("circuit", "circuits", frequency, planned, kept, current, best, row.score,
                         row.score_before, first_day)
            for row, (planned, kept, current, best) in zip(scored, counts, strict=True)]


def circuit_marks(planned_days: Sequence[date], done_days: Sequence[date], first_day: date,
                  as_of: date, with_scores: bool = True, with_streaks: bool = True) -> tuple[list[Mark], list[Mark]]:
    """(score marks, streak marks) of the circuit up to `as_of`. `planned_days` leaves out extra
    rest days. Score marks: every day from `first_day` with a planned circuit in the 14-day window
    ending that day, valued circuits done in the window / planned in it (at most 1). Streak marks:
    one per planned circuit day, kept when a circuit was recorded on it or before the next planned
    one (a day late still keeps it); the last one, still open and not kept yet, is left out."""
    every = sorted(planned_days)
    planned = every[:bisect_right(every, as_of)]
    done = sorted(done_days)
    done = done[:bisect_right(done, as_of)]
    score_marks = []
    day = first_day
    while with_scores and day <= as_of:
        start = day - timedelta(days=WINDOW_DAYS - 1)
        wanted = bisect_right(planned, day) - bisect_left(planned, start)
        if wanted:
            got = bisect_right(done, day) - bisect_left(done, start)
            score_marks.append(Mark(day, min(1.0, got / wanted), got >= wanted))
        day += timedelta(days=1)
    streak_marks = []
    for i, p in enumerate(planned if with_streaks else ()):
        until = every[i + 1] if i + 1 < len(every) else date.max
        kept = bisect_left(done, until) > bisect_left(done, p)
        if kept or until <= as_of:
            streak_marks.append(Mark(p, 1.0 if kept else 0.0, kept))
    return score_marks, streak_marks
