"""The report's charts as inline SVG text, written directly (no plotting library): a page with ten
years of history is drawn in milliseconds, the text stays text (selectable, read by screen
readers), and every colour is a CSS class, so the page's light, dark and print styles apply to
the charts too (`CHART_CSS`, also put into a chart saved on its own).

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
series also differ by marker or pattern so that a grey print still reads. Each function returns
the SVG and a caption that describes only what was drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from html import escape

from posture_agent.domain import correlation as stats
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain.records import CONTEXTS, REGIONS

CHART_CSS = """
svg.chart { font: 12px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
svg.chart text { fill: var(--ink); }
svg.chart text.muted { fill: var(--muted); }
svg.chart text.on-dark { fill: #ffffff; }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .grid { stroke: var(--rule); stroke-width: 0.6; }
svg.chart .desk { fill: var(--desk); } svg.chart .car { fill: var(--car); } svg.chart .sofa { fill: var(--sofa); }
svg.chart .all { fill: var(--all); } svg.chart .some { fill: var(--some); }
svg.chart .none { fill: var(--none); stroke: var(--rule); } svg.chart .unplanned { fill: var(--unplanned); }
svg.chart .today { stroke: var(--ink); stroke-width: 2; }
svg.chart .bar { fill: var(--accent); } svg.chart .old { fill: var(--accent); stroke: var(--bg); stroke-width: .6; }
svg.chart .new { fill: var(--car); stroke: var(--ink); stroke-width: .8; }
svg.chart .line { fill: none; stroke: var(--alert); stroke-width: 2; }
svg.chart .dot { fill: var(--alert); }
svg.chart .mean { stroke: var(--ink); stroke-dasharray: 4 3; stroke-width: 1; }
"""
"""The charts' styles: the page's colour variables (light, dark) give them their colours."""

DAY_KEYS = ("all", "some", "none", "unplanned")
DAY_WORDS = {"all": "all done", "some": "partly done", "none": "none done", "unplanned": "not planned"}


@dataclass(frozen=True)
class Chart:
    svg: str
    caption: str


def _svg(key: str, title: str, width: int, height: int, body: Iterable[str]) -> str:
    return (f'<svg class="chart" id="{key}" role="img" aria-labelledby="{key}-title" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{key}-title">{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, words: str, cls: str = "", anchor: str = "start", size: float = 12) -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}"{klass} text-anchor="{anchor}" font-size="{size:g}">'
            f"{escape(words)}</text>")


def _rect(x: float, y: float, w: float, h: float, cls: str, tip: str = "") -> str:
    inner = f"<title>{escape(tip)}</title>" if tip else ""
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" class="{cls}">{inner}</rect>'


def _pct_axis(x0: float, x1: float, top: float, height: float) -> list[str]:
    out = []
    for v in (0, 25, 50, 75, 100):
        y = top + height * (1 - v / 100)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(_text(x0 - 6, y + 4, f"{v}%", "muted", "end", 11))
    return out


def day_key(day: f.DrillDay) -> str:
    if not day.is_planned:
        return "unplanned"
    if day.complete:
        return "all"
    return "some" if day.done_planned else "none"


def _legend(x: float, y: float, items: Sequence[tuple[str, str]], step: float = 118) -> list[str]:
    out = []
    for i, (cls, words) in enumerate(items):
        out.append(_rect(x + i * step, y - 10, 12, 12, cls))
        out.append(_text(x + i * step + 17, y, words, "", "start", 11))
    return out


def slouch_by_day(totals: f.WeekTotals, today: date, key: str = "chart-slouch") -> Chart:
    """The week's slouch rate per day, one bar per context, the number of answers above each bar."""
    width, height, left, top, plot_h = 760, 250, 48, 34, 170
    col = (width - left - 10) / 7
    body = [_text(left, 18, f"Slouch rate per day by context, {totals.week}", "", "start", 13)]
    body += _pct_axis(left, width - 10, top, plot_h)
    drawn, dashes = set(), False
    for i, day in enumerate(totals.days):
        x = left + i * col
        body.append(_text(x + col / 2, top + plot_h + 16, f"{day:%a %d %b}", "muted", "middle", 11))
        for j, ctx in enumerate(CONTEXTS):
            counts = totals.checkins.by_day[day][ctx]
            bx = x + 8 + j * (col - 16) / 3
            bw = (col - 16) / 3 - 2
            if counts.slouch_rate is None:
                if day <= today:
                    dashes = True
                    body.append(_text(bx + bw / 2, top + plot_h - 3, "–", "muted", "middle", 11))
                continue
            drawn.add(ctx)
            h = plot_h * counts.slouch_rate
            tip = f"{day:%a %d %b} {ctx}: {counts.slouched} of {counts.answered} answers slouched"
            body.append(_rect(bx, top + plot_h - h, bw, h, ctx, tip))
            body.append(_text(bx + bw / 2, top + plot_h - h - 3, str(counts.answered), "muted", "middle", 10))
    overall = totals.checkins.total.slouch_rate
    if overall is not None:
        y = top + plot_h * (1 - overall)
        body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="mean"/>')
    shown = [c for c in CONTEXTS if c in drawn]
    body += _legend(left, height - 8, [(c, c) for c in shown], 80)
    if overall is None:
        body.append(_text(width / 2, top + plot_h / 2, "No answered check-ins this week", "muted", "middle", 14))
    svg = _svg(key, f"Bar chart: slouch rate per day by context for {totals.week}", width, height, body)
    parts = ["Bars: slouched ÷ (upright + slouched + standing) per day and context ("
             + ", ".join(shown) + "); the number above a bar is its answered check-ins."] if shown else [
             "No answered check-ins this week, so no bars."]
    if overall is not None:
        parts.append(f"The dashed line is the whole week's rate, {overall * 100:.0f}%.")
    if dashes:
        parts.append("A dash: no answers in that context that day.")
    return Chart(svg, " ".join(parts))


def month_calendar(days: Mapping[date, f.DrillDay], year: int, month: int, today: date, key: str) -> Chart:
    """One month of the drills, Monday first, a square per day coloured by how much was done."""
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    cell, left, top = 34, 4, 40
    rows = ((first.weekday() + (nxt - first).days) + 6) // 7
    width, height = left + 7 * cell + 4, top + rows * cell + 30
    body = [_text(left, 16, f"Drills, {first:%B %Y}", "", "start", 13)]
    body += [_text(left + i * cell + cell / 2, top - 6, w, "muted", "middle", 11)
             for i, w in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]
    seen = set()
    day = first
    while day < nxt:
        slot = first.weekday() + (day - first).days
        x, y = left + (slot % 7) * cell, top + (slot // 7) * cell
        drill_day = days.get(day)
        k = day_key(drill_day) if drill_day else "unplanned"
        seen.add(k)
        tip = f"{day:%a %d %b}: {DAY_WORDS[k]}"
        if drill_day and drill_day.is_planned:
            tip += f" ({drill_day.done_planned} of {len(drill_day.planned)})"
        cls = f"{k} today" if day == today else k
        body.append(_rect(x + 1, y + 1, cell - 3, cell - 3, cls, tip))
        body.append(_text(x + cell / 2, y + cell / 2 + 4, str(day.day), "on-dark" if k == "all" else "", "middle", 11))
        day += timedelta(days=1)
    legend = [(k, DAY_WORDS[k]) for k in DAY_KEYS if k in seen]
    body += _legend(left, height - 8, legend[:2], 116)
    if len(legend) > 2:
        body += _legend(left, height + 10, legend[2:], 116)
        height += 18
    svg = _svg(key, f"Calendar of the drills in {first:%B %Y}", width, height, body)
    words = ", ".join(DAY_WORDS[k] for k, _ in legend)
    outline = f" {today:%a %d %b}, the day the page was made, is outlined." if first <= today < nxt else ""
    return Chart(svg, f"Each square is a day of {first:%B %Y}, coloured by its drills: {words}.{outline}")


def year_heatmap(days: Mapping[date, f.DrillDay], last: date, today: date, key: str = "chart-year") -> Chart:
    """53 weeks of drills ending with `last`'s week: a column per week, a row per weekday."""
    end = last + timedelta(days=6 - last.weekday())
    start = end - timedelta(weeks=53) + timedelta(days=1)
    cell, left, top = 13, 30, 30
    width, height = left + 53 * cell + 6, top + 7 * cell + 32
    body = [_text(left, 14, f"Drills over the year to {last:%d %b %Y}", "", "start", 13)]
    body += [_text(left - 4, top + i * cell + 10, w, "muted", "end", 9)
             for i, w in ((0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun"))]
    seen = set()
    day = start
    month, labelled = None, -9
    while day <= end:
        week, row = (day - start).days // 7, day.weekday()
        x, y = left + week * cell, top + row * cell
        if day.month != month and row == 0:
            month = day.month
            if day.day <= 7 and week - labelled >= 3:  # at the column of its first Monday
                labelled = week
                body.append(_text(x, top - 4, f"{day:%b}", "muted", "start", 9))
        drill_day = days.get(day)
        k = day_key(drill_day) if drill_day else "unplanned"
        seen.add(k)
        cls = f"{k} today" if day == today else k
        body.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" class="{cls}">'
                    f"<title>{day:%a %d %b %Y}: {DAY_WORDS[k]}</title></rect>")
        day += timedelta(days=1)
    legend = [(k, DAY_WORDS[k]) for k in DAY_KEYS if k in seen]
    body += _legend(left, height - 6, legend, 116)
    svg = _svg(key, f"Heatmap of the drills over the 53 weeks to {last:%d %b %Y}", width, height, body)
    words = ", ".join(w for _, w in legend)
    return Chart(svg, f"A square per day over 53 weeks (a column per week, Monday at the top): {words}.")


def rate_bars(title: str, labels: Sequence[str], counts: Sequence[tuple[int, int]], key: str,
              what: str) -> Chart:
    """Slouch rate per group (weekday, hour): slouched / answered, the number of answers on each bar."""
    width, height, left, top, plot_h = 520, 230, 48, 30, 160
    col = (width - left - 10) / max(1, len(labels))
    body = [_text(left, 16, title, "", "start", 13)]
    body += _pct_axis(left, width - 10, top, plot_h)
    empty = []
    for i, (label, (answered, slouched)) in enumerate(zip(labels, counts, strict=True)):
        x = left + i * col
        body.append(_text(x + col / 2, top + plot_h + 15, label, "muted", "middle", 10))
        if not answered:
            empty.append(label)
            body.append(_text(x + col / 2, top + plot_h - 3, "–", "muted", "middle", 11))
            continue
        h = plot_h * slouched / answered
        body.append(_rect(x + 3, top + plot_h - h, col - 6, h, "bar", f"{label}: {slouched} of {answered} slouched"))
        body.append(_text(x + col / 2, top + plot_h - h - 3, str(answered), "muted", "middle", 9))
    svg = _svg(key, title, width, height, body)
    caption = f"Bars: slouched ÷ answered check-ins {what}; the number above a bar is its answers."
    if empty:
        caption += " A dash: no answers."
    return Chart(svg, caption)


def soreness_timeline(points: Sequence[ex.RunPoint], first: date, last: date, zone: tzinfo,
                      key: str = "chart-timeline") -> Chart:
    """Each run of the period as a bar of its highest soreness score (0-10) after it, at its date; a
    dot above it for the slouch exposure before it (0-100%, right axis)."""
    width, height, left, top, plot_h = 1000, 220, 40, 30, 150
    span = max(1, (last - first).days + 1)
    body = [_text(left, 16, f"Runs from {first:%d %b} to {last:%d %b %Y}: soreness after and slouching before",
                  "", "start", 13)]
    for v in (0, 5, 10):
        y = top + plot_h * (1 - v / 10)
        body.append(f'<line x1="{left}" x2="{width - 40}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(_text(left - 6, y + 4, str(v), "muted", "end", 11))
        body.append(_text(width - 34, y + 4, f"{v * 10}%", "muted", "start", 11))
    month = date(first.year, first.month, 1)
    while month <= last:
        if month >= first:
            x = left + (month - first).days / span * (width - left - 50)
            body.append(_text(x, top + plot_h + 15, f"{month:%b}", "muted", "start", 10))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    bars = dots = 0
    for p in points:
        day = p.run.start.astimezone(zone).date()
        x = left + (day - first).days / span * (width - left - 50)
        scores = [s for s in (p.score(r) for r in REGIONS) if s is not None]
        if scores:
            bars += 1
            h = plot_h * max(scores) / 10
            body.append(_rect(x, top + plot_h - h, 4, max(h, 1), "bar",
                              f"{day:%a %d %b}: {p.run.distance_km:.1f} km, highest soreness {max(scores)}"))
        if p.exposure.rate is not None:
            dots += 1
            y = top + plot_h * (1 - p.exposure.rate)
            body.append(f'<circle cx="{x + 2:.1f}" cy="{y:.1f}" r="3" class="dot"><title>{day:%a %d %b}: '
                        f"slouched {p.exposure.rate * 100:.0f}% in the 48 h before</title></circle>")
    if not points:
        body.append(_text(width / 2, top + plot_h / 2, "No runs in these months", "muted", "middle", 14))
    svg = _svg(key, f"Runs from {first:%d %b} to {last:%d %b %Y} with soreness and exposure", width, height, body)
    parts = []
    if bars:
        parts.append(f"Bars ({bars}): the highest soreness score (0-10, left axis) of the first report within "
                     "24 h after a run.")
    if dots:
        parts.append(f"Dots ({dots}): the slouch rate over the check-ins in the 48 h before it "
                     "(at least 3; right axis).")
    return Chart(svg, " ".join(parts) or "No runs in these months, so nothing is drawn.")


def band_means(points: Sequence[tuple[float, int]], band: float = 0.1, minimum: int = 3) -> list[tuple[float, float]]:
    """Mean soreness per exposure band (0-10%, 10-20%, …) with at least `minimum` runs: the trend line."""
    groups: dict[int, list[int]] = {}
    for x, y in points:
        groups.setdefault(min(int(x / band), int(1 / band) - 1), []).append(y)
    return [((k + 0.5) * band, sum(v) / len(v)) for k, v in sorted(groups.items()) if len(v) >= minimum]


def exposure_scatter(points: Sequence[ex.RunPoint], trends: Mapping[str, stats.Trend],
                     highlight: Sequence[ex.RunPoint], key: str = "chart-runs") -> Chart:
    """Each run as a point, per back region: slouch exposure before it against soreness after it."""
    marked = {p.run.id for p in highlight}
    pw, ph, gap = 440, 170, 60
    width, height = 2 * pw + gap + 60, 2 * (ph + 70) + 20
    body = [_text(10, 16, "Runs: slouching before against soreness after", "", "start", 13)]
    drawn = {"old": 0, "new": 0, "line": 0}
    for i, region in enumerate(REGIONS):
        ox, oy = 50 + (i % 2) * (pw + gap), 50 + (i // 2) * (ph + 70)
        t = trends[region]
        name = {"si_joint": "SI joint"}.get(region, region.replace("_", " ").capitalize())
        figure = f"rho = {t.rho:+.2f}, n = {t.n}" if t.rho is not None else f"no trend yet (n = {t.n})"
        body.append(_text(ox, oy - 10, f"{name}: {figure}", "", "start", 12))
        body.append(f'<rect x="{ox}" y="{oy}" width="{pw}" height="{ph}" fill="none" class="axis"/>')
        for v in (0, 5, 10):
            body.append(_text(ox - 5, oy + ph * (1 - v / 10) + 4, str(v), "muted", "end", 10))
        for v in (0, 50, 100):
            body.append(_text(ox + pw * v / 100, oy + ph + 14, f"{v}%", "muted", "middle", 10))
        pairs = [(p.exposure.rate, p.score(region), p.run.id in marked) for p in points]
        both = [(x, y, m) for x, y, m in pairs if x is not None and y is not None]
        for x, y, m in sorted(both, key=lambda v: v[2]):
            cx, cy = ox + pw * x, oy + ph * (1 - y / 10)
            if m:
                drawn["new"] += 1
                body.append(f'<rect x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" class="new" '
                            f'transform="rotate(45 {cx:.1f} {cy:.1f})"/>')
            else:
                drawn["old"] += 1
                body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" class="old"/>')
        if not both:
            body.append(_text(ox + pw / 2, oy + ph / 2, "no runs with both figures yet", "muted", "middle", 12))
        line = band_means([(x, y) for x, y, _ in both])
        if len(line) >= 2:
            drawn["line"] += 1
            path = " ".join(f"{ox + pw * x:.1f},{oy + ph * (1 - y / 10):.1f}" for x, y in line)
            body.append(f'<polyline points="{path}" class="line"/>')
    body.append(_text(width / 2, height - 8, "Slouch rate in the 48 h before the run (x) · soreness after, "
                      "0-10 (y)", "muted", "middle", 11))
    svg = _svg(key, "Scatter plots per back region of slouch exposure before each run against soreness after it",
               width, height, body)
    parts = ["Each mark is a run: the slouch rate over answered check-ins in the 48 h before it (at least 3) "
             "against the first soreness score in the 24 h after it."]
    if drawn["old"]:
        parts.append("Blue circles: earlier runs." if drawn["new"] else "Every run is a blue circle (none this week).")
    if drawn["new"]:
        parts.append("Orange diamonds: this week's runs.")
    if drawn["line"]:
        parts.append("The vermilion line joins the mean soreness of each 10% band of slouching with at least 3 runs.")
    if not (drawn["old"] or drawn["new"]):
        parts = ["No run has both a slouch exposure and a soreness score yet, so no marks are drawn."]
    return Chart(svg, " ".join(parts))
