"""The report's charts as SVG text, drawn with matplotlib's SVG backend (Agg for rasterized scatter points).

matplotlib is imported inside `_figure()` only (never pyplot), so commands that draw nothing never pay for it.
Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies),
and every series also differs by hatch or marker so the page still reads when printed in grey.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from posture_agent.domain import correlation as stats
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain.records import CONTEXTS, REGIONS

BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE, YELLOW = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442",
)
CONTEXT_STYLE = {"desk": (BLUE, ""), "car": (ORANGE, "///"), "sofa": (GREEN, "...")}
CALENDAR = {"not planned": "#e9e9e9", "none": "#ffffff", "some": "#9ecae1", "all": "#08519c"}
INK = "#222222"


def _figure(*grid: int, **kwargs: Any) -> tuple[Any, Any]:
    """A new figure and its axes, without pyplot: no global figure registry, no GUI backend, and
    about a third less import time. The SVG is written by matplotlib's own SVG backend."""
    import matplotlib

    matplotlib.rcParams.update({
        "svg.fonttype": "none",  # text stays text: selectable, searchable, read by screen readers
        "svg.hashsalt": "posture-agent",  # stable ids, so the same data gives the same file
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "axes.edgecolor": "#555555",
        "axes.labelcolor": INK,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": INK,
        "ytick.color": INK,
        "figure.dpi": 100,
    })
    from matplotlib.figure import Figure

    figsize = kwargs.pop("figsize")
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kwargs)


def _svg(fig: Any, title: str, key: str) -> str:
    """The figure as inline SVG: scalable to its container, titled for assistive technology."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # fixed margins: a tight bbox costs a draw
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)  # RDF credits: not needed
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  rf'<svg\1 role="img" aria-labelledby="{key}-title" class="chart" id="{key}"', text, count=1)
    return re.sub(r"(<svg[^>]*>)", rf'\1<title id="{key}-title">{_escape(title)}</title>', text, count=1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slouch_by_day(totals: f.WeekTotals, today: date) -> str:
    """Slouch rate per day of the week, one bar per context; a day without answers shows no bar."""
    fig, ax = _figure(figsize=(9.6, 3.6))
    fig.subplots_adjust(left=0.08, right=0.76, top=0.9, bottom=0.17)
    width = 0.26
    for i, ctx in enumerate(CONTEXTS):
        colour, hatch = CONTEXT_STYLE[ctx]
        for x, day in enumerate(totals.days):
            counts = totals.checkins.by_day[day][ctx]
            pos = x + (i - 1) * width
            if counts.slouch_rate is None:
                if day > today:
                    continue
                ax.text(pos, 1.5, "–", ha="center", va="bottom", color="#777777", fontsize=9)
                continue
            ax.bar(pos, counts.slouch_rate * 100, width, color=colour, hatch=hatch, edgecolor="white",
                   linewidth=0.5, label=ctx)
            ax.text(pos, counts.slouch_rate * 100 + 1.5, str(counts.answered), ha="center", va="bottom",
                    fontsize=7, color="#555555")
    overall = totals.checkins.total.slouch_rate
    if overall is None:
        ax.text(3, 50, "No answered check-ins this week", ha="center", va="center", fontsize=12, color="#555555")
    else:
        ax.axhline(overall * 100, color=INK, linestyle="--", linewidth=1, label=f"whole week {overall * 100:.0f}%")
    ax.set_xticks(range(len(totals.days)), [f"{d:%a}\n{d:%d %b}" for d in totals.days])
    ax.set_xlim(-0.6, len(totals.days) - 0.4)
    ax.set_ylim(0, 108)
    ax.set_yticks(range(0, 101, 25), [f"{v}%" for v in range(0, 101, 25)])
    ax.set_ylabel("Slouch rate (% of answered check-ins)")
    ax.set_title(f"Slouch rate per day by context, {totals.week}", loc="left")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=False))
    if seen:
        order = [c for c in (*CONTEXTS, *labels) if c in seen]
        ax.legend([seen[c] for c in dict.fromkeys(order)], list(dict.fromkeys(order)),
                  title="Context (number = answers; – = none)", loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  frameon=False, fontsize=9, title_fontsize=8)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return _svg(fig, f"Bar chart: slouch rate per day by context for {totals.week}", "chart-slouch")


def drill_calendar(weeks: Sequence[f.WeekTotals], streak: int, today: date, as_of: date | None = None) -> str:
    """Weeks × days, like a habit tracker: how much of each day's drill checklist was done."""
    fig, ax = _figure(figsize=(6.4, 0.36 * len(weeks) + 1.1))
    from matplotlib.patches import Patch, Rectangle

    height = 0.36 * len(weeks) + 1.1
    fig.subplots_adjust(left=0.14, right=0.72, top=1 - 0.75 / height, bottom=0.1 / height)
    for row, week in enumerate(weeks):
        for col, day in enumerate(week.drills):
            if not day.is_planned:
                key, mark = "not planned", ""
            elif day.complete:
                key, mark = "all", "✓"
            elif day.done_planned:
                key, mark = "some", f"{day.done_planned}/{len(day.planned)}"
            else:
                key, mark = "none", "0"
            ax.add_patch(Rectangle((col, row), 0.94, 0.9, facecolor=CALENDAR[key],
                                   edgecolor=INK if day.day == today else "#bbbbbb",
                                   linewidth=2 if day.day == today else 0.5))
            colour = "white" if key == "all" else INK
            ax.text(col + 0.47, row + 0.45, mark, ha="center", va="center", fontsize=8, color=colour)
            ax.text(col + 0.06, row + 0.08, f"{day.day.day}", ha="left", va="top", fontsize=5.5,
                    color="#dddddd" if key == "all" else "#777777")
    ax.set_xlim(0, 7)
    ax.set_ylim(len(weeks), 0)
    ax.set_xticks([c + 0.47 for c in range(7)], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_yticks([r + 0.45 for r in range(len(weeks))], [w.week for w in weeks])
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.xaxis.tick_top()
    days = f"{streak} day{'s' if streak != 1 else ''}"
    title = f"current streak {days}" if as_of in (None, today) else f"streak {days} (on {as_of:%d %b %Y})"
    ax.set_title(f"Daily drills: {title}", loc="left", pad=26)
    legend = [Patch(facecolor=CALENDAR[k], edgecolor="#999999", label=label) for k, label in (
        ("all", "✓ all done"), ("some", "n/m some done"), ("none", "0 none done"), ("not planned", "not planned"))]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return _svg(fig, f"Calendar of daily drills over {len(weeks)} weeks; streak {streak} days", "chart-drills")


def band_means(points: Sequence[tuple[float, int]], band: float = 0.1, minimum: int = 3) -> list[tuple[float, float]]:
    """Mean soreness per exposure band (0-10%, 10-20%, …) with at least `minimum` runs: the trend line."""
    groups: dict[int, list[int]] = {}
    for x, y in points:
        groups.setdefault(min(int(x / band), int(1 / band) - 1), []).append(y)
    return [((k + 0.5) * band, sum(v) / len(v)) for k, v in sorted(groups.items()) if len(v) >= minimum]


WEEK_SIZE = 8.0
"""Marker size (points) of this week's runs in the scatter."""


def earlier_style(count: int) -> dict[str, float]:
    """How the earlier runs are drawn: solid and as large as a legend marker while there are few, so
    every run reads; a little smaller and slightly translucent (never pale) once many of them overlap,
    so that a solid mass does not hide how dense each region is. The legend is drawn from the same
    values."""
    if count <= 150:
        return {"size": 6.5, "alpha": 1.0, "edge": 0.6}
    return {"size": 5.0, "alpha": 0.75, "edge": 0.3}


def exposure_scatter(
    points: Sequence[ex.RunPoint], trends: dict[str, stats.Trend], highlight: Sequence[ex.RunPoint]
) -> str:
    """Each run as a point: slouch exposure before it against soreness after it, per region."""
    fig, axes = _figure(2, 2, figsize=(9.6, 6.6), sharex=True, sharey=True)
    marked = {p.run.id for p in highlight}
    earlier = earlier_style(sum(p.run.id not in marked for p in points))
    drawn = {"earlier": False, "week": False, "line": False}
    for ax, region in zip(axes.flat, REGIONS, strict=True):
        both = [(p.exposure.rate, p.score(region), p.run.id in marked) for p in points]
        pairs = [(x, y, m) for x, y, m in both if x is not None and y is not None]
        old = [(x, y) for x, y, m in pairs if not m]
        new = [(x, y) for x, y, m in pairs if m]
        if old:
            drawn["earlier"] = True
            ax.scatter([x * 100 for x, _ in old], [y for _, y in old], s=earlier["size"] ** 2, color=BLUE,
                       alpha=earlier["alpha"], edgecolor="white", linewidths=earlier["edge"], zorder=2,
                       rasterized=len(old) > 400)
        if new:
            drawn["week"] = True
            ax.scatter([x * 100 for x, _ in new], [y for _, y in new], s=WEEK_SIZE ** 2, color=ORANGE,
                       edgecolor=INK, linewidths=0.8, marker="D", zorder=3)
        if not pairs:
            ax.text(50, 5, "no runs with both figures yet", ha="center", va="center", fontsize=10, color="#555555")
        line = band_means([(x, y) for x, y, _ in pairs])
        if len(line) >= 2:
            drawn["line"] = True
            ax.plot([x * 100 for x, _ in line], [y for _, y in line], color=VERMILION, linewidth=2, marker="o",
                    markersize=4, zorder=4)
        t = trends[region]
        name = {"si_joint": "SI joint"}.get(region, region.replace("_", " ").capitalize())
        figure = f"rho = {t.rho:+.2f}, n = {t.n}" if t.rho is not None else f"no trend yet (n = {t.n})"
        ax.set_title(f"{name}: {figure}", loc="left", fontsize=10)
        ax.set_xlim(-2, 102)
        ax.set_ylim(-0.5, 10.5)
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    for ax in axes[1]:
        ax.set_xlabel("Slouch rate in the 48 h before the run (%)")
    for ax in axes[:, 0]:
        ax.set_ylabel("Soreness after (0-10)")
    from matplotlib.lines import Line2D

    legend = []  # only what is drawn, in the style it is drawn in
    if drawn["earlier"]:
        legend.append(Line2D([], [], linestyle="", marker="o", markersize=earlier["size"], color=BLUE,
                             alpha=earlier["alpha"], markeredgecolor="white", markeredgewidth=earlier["edge"],
                             label="an earlier run"))
    if drawn["week"]:
        legend.append(Line2D([], [], linestyle="", marker="D", markersize=WEEK_SIZE, color=ORANGE,
                             markeredgecolor=INK, markeredgewidth=0.8, label="a run this week"))
    if drawn["line"]:
        legend.append(Line2D([], [], color=VERMILION, linewidth=2, marker="o", markersize=4,
                             label="mean per 10% band (at least 3 runs)"))
    if legend:
        fig.legend(handles=legend, loc="lower center", ncol=len(legend), frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Runs: slouching before against soreness after", x=0.01, ha="left", fontweight="bold")
    fig.subplots_adjust(left=0.07, right=0.98, top=0.91, bottom=0.16, hspace=0.22, wspace=0.06)
    return _svg(fig, "Scatter plots per back region of slouch exposure before each run against soreness after it",
                "chart-runs")


MIN_WEEK_SLOTS = 8
"""The weekly totals are at least this many weeks wide, so a new user's two weeks are not two slabs."""


def weekly_totals(weeks: Sequence[f.WeekTotals]) -> str:
    """The last weeks side by side: slouch rate and drill adherence, distance run, circuits."""
    fig, (top, mid, low) = _figure(3, 1, figsize=(9.6, 6.4), sharex=True,
                                        gridspec_kw={"height_ratios": [1.3, 1, 0.8]})
    xs = list(range(len(weeks)))
    labels = [w.week.split("-")[1] for w in weeks]

    def series(values: list[float | None]) -> list[float]:
        return [float("nan") if v is None else v * 100 for v in values]

    top.plot(xs, series([w.checkins.total.slouch_rate for w in weeks]), color=VERMILION, marker="o",
             linewidth=2, label="slouch rate")
    top.plot(xs, series([w.adherence for w in weeks]), color=BLUE, marker="s", linestyle="--", linewidth=2,
             label="drill adherence")
    top.set_ylim(0, 105)
    top.set_yticks(range(0, 101, 25), [f"{v}%" for v in range(0, 101, 25)])
    top.set_ylabel("Percent")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    km = [w.run_totals.distance_km for w in weeks]
    bars = mid.bar(xs, km, color=SKY, edgecolor=BLUE, label="distance")
    for bar, w in zip(bars, weeks, strict=True):
        if w.run_totals.count:
            mid.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{w.run_totals.count}", ha="center",
                     va="bottom", fontsize=7, color="#555555")
    mid.set_ylabel("Distance run (km)")
    mid.set_ylim(0, max([*km, 1.0]) * 1.2)
    mid.legend(["distance (number = runs)"], loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    planned = [len(w.circuits.planned_days) for w in weeks]
    done = [len(w.circuits.done) for w in weeks]
    low.bar([x - 0.2 for x in xs], planned, 0.4, color="#ffffff", edgecolor=INK, hatch="//", label="planned")
    low.bar([x + 0.2 for x in xs], done, 0.4, color=GREEN, label="done")
    low.set_ylabel("Circuits")
    low.set_ylim(0, max([*planned, *done, 2]) + 0.5)
    low.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    low.set_xticks(xs, labels)
    low.set_xlabel("ISO week")
    pad = max(0.0, (MIN_WEEK_SLOTS - len(weeks)) / 2) + 0.6  # a few weeks stay bar-sized, centred
    low.set_xlim(-pad, len(weeks) - 1 + pad)
    for ax in (top, mid, low):
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    top.set_title(f"Weekly totals, {weeks[0].week} to {weeks[-1].week}", loc="left")
    fig.subplots_adjust(left=0.08, right=0.78, top=0.94, bottom=0.09, hspace=0.12)
    return _svg(fig, f"Weekly totals from {weeks[0].week} to {weeks[-1].week}", "chart-weeks")
