"""The trend: Spearman rank correlation between sitting before runs and soreness after them,
given only when enough runs have both figures and each side varies, with its 95% confidence
interval so that a few runs never read as a firm link."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from posture_agent.domain.exposure import RunPoint
from posture_agent.domain.records import REGIONS

TREND_MIN_N = 8
MIN_DISTINCT = 3
"""Fewer distinct values on a side than this is too little variation to rank against."""
Z_95 = 1.959964
FIELLER_VARIANCE = 1.06
"""Var(atanh(rho)) ≈ 1.06 / (n - 3) for Spearman's rho (Fieller, Hartley and Pearson 1957)."""


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties sharing the average of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


@dataclass(frozen=True)
class Trend:
    region: str
    rho: float | None
    n: int
    reason: str | None
    """Why rho is None; None when rho is given."""
    ci: tuple[float, float] | None = None
    """The 95% confidence interval for rho (Fisher z); None when rho is None."""


def confidence_interval(rho: float, n: int) -> tuple[float, float]:
    """95% interval for Spearman's rho over `n` pairs, through Fisher's z = atanh(rho)."""
    z = math.atanh(max(-0.999999, min(0.999999, rho)))
    half = Z_95 * math.sqrt(FIELLER_VARIANCE / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> tuple[float | None, str | None]:
    """Spearman's rho with average ranks for ties, or None and the reason (n < 8, a side with
    fewer than three distinct values)."""
    n = len(xs)
    if n < TREND_MIN_N:
        return None, f"only {n} run{'s' if n != 1 else ''} with both figures; at least {TREND_MIN_N} are needed"
    for values, what, when in ((xs, "slouch exposure", "before"), (ys, "soreness score", "after")):
        if len(set(values)) == 1:
            return None, f"too little variation: the {what} was the same {when} every run"
        if len(set(values)) < MIN_DISTINCT:
            return None, f"too little variation: the {what} took only {len(set(values))} different values"
    return pearson(average_ranks(xs), average_ranks(ys)), None


def trend(points: Iterable[RunPoint], region: str) -> Trend:
    """Exposure against soreness in `region`, over runs that have both."""
    pairs = [(p.exposure.rate, p.score(region)) for p in points]
    both = [(x, y) for x, y in pairs if x is not None and y is not None]
    rho, reason = spearman([x for x, _ in both], [float(y) for _, y in both])
    ci = None if rho is None else confidence_interval(rho, len(both))
    return Trend(region, rho, len(both), reason, ci)


def trends(points: Sequence[RunPoint]) -> dict[str, Trend]:
    return {region: trend(points, region) for region in REGIONS}
