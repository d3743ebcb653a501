"""The weekly report as one self-contained HTML file: inline CSS and inline SVG charts, no scripts,
no fonts or images fetched from anywhere, so it opens offline and prints cleanly."""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from html import escape
from pathlib import Path

from posture_agent.domain import advice as rules
from posture_agent.domain import figures as f
from posture_agent.domain.records import CONTEXTS, REGIONS
from posture_agent.outputs import write_atomically
from posture_agent.report import charts
from posture_agent.report.text import day_label, pct
from posture_agent.report.trends import CAVEAT, RECENT_WEEKS, TrendReport, describe, region_title
from posture_agent.report.weekly import WeeklyReport
from posture_agent.timeparse import format_duration

CSS = """
:root { color-scheme: light; --ink: #222; --muted: #555; --rule: #ccc; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
       background: #fff; margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
p.sub { color: var(--muted); margin: 0 0 12px; }
section.advice { border-left: 4px solid var(--accent); background: #f3f8fc; padding: 6px 14px 8px; margin: 14px 0 0; }
section.advice h2 { font-size: 1.05rem; margin: 2px 0 4px; border: 0; padding: 0; }
section.advice ul { margin: 0; padding-left: 20px; }
p.applied { color: var(--muted); font-size: .9rem; margin: 4px 0 0; }
p.history { color: var(--muted); font-size: .9rem; margin: 10px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px; padding: 8px 12px; }
.card .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .detail { color: var(--muted); font-size: .85rem; }
.cards.in-force { grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); margin-bottom: 10px; }
.card.alert { border-left-color: #D55E00; background: #fff4ec; }
figure { margin: 12px 0 20px; break-inside: avoid; page-break-inside: avoid; }
figure svg.chart { width: 100%; height: auto; display: block; }
figure.half svg.chart { max-width: 760px; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: 4px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { font-weight: 600; background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { border-left: 4px solid #E69F00; background: #fff8e6; padding: 8px 12px; margin: 12px 0; }
ul.advice li { margin: 2px 0; }
footer { color: var(--muted); font-size: .8rem; margin-top: 36px; border-top: 1px solid var(--rule); padding-top: 8px; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2, h3 { break-after: avoid; }
  table, .note { break-inside: avoid; }
  .card { border-left-width: 2px; }
  @page { margin: 14mm; }
}
"""


def _card(label: str, value: str, detail: str = "", kind: str = "") -> str:
    cls = f"card {kind}" if kind else "card"
    return (f'<div class="{cls}"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
            f'<div class="detail">{escape(detail)}</div></div>')


def _when(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return day_label(day)


def advice_cards(advice: rules.Advice | None, zone: tzinfo) -> list[str]:
    """The advice in force as cards, ahead of the week's figures: what to do (or not) today."""
    if advice is None:
        return []
    today = advice.now.astimezone(zone).date()
    cards = []
    p = advice.si_protocol
    if p is not None:
        ice = ", ".join(t.strftime("%H:%M") for t in p.ice_times)
        cards.append(_card("SI-joint protocol", f"day {p.day} of {rules.PROTOCOL_DAYS}",
                           f"no running until {p.ends.astimezone(zone):%a %d %b %H:%M}; ice at {ice}", "alert"))
    if advice.rest_days:
        more = len(advice.rest_days) - 1
        cards.append(_card("Extra rest day", _when(advice.rest_days[0], today),
                           "back sore after the last run" + (f"; {more} more after it" if more else ""), "alert"))
    if advice.pelvic_tilts_until is not None:
        cards.append(_card("Pelvic tilts", f"until {day_label(advice.pelvic_tilts_until)}",
                           "in the daily drills (lower back sore)", "alert"))
    return cards


def shown_weeks(report: WeeklyReport) -> tuple[list[f.WeekTotals], str]:
    """The weeks the calendar and the weekly totals draw, and one line saying how much history there is.
    Weeks that end before planning began (the install or the first record) are left out, not drawn
    as empty rows; the report's own week is always drawn."""
    t = report.totals
    recent = list(report.recent or (t,))
    first = report.first_day
    if first is None:
        return [t], "No records yet: the charts show this week only."
    weeks = [w for w in recent if w.days[-1] >= first] or [t]
    count = (t.days[0] - (first - timedelta(days=first.weekday()))).days // 7 + 1
    since = f"since {day_label(first)} {first.year}"
    if count <= 0:
        return weeks, f"This week is before the first record ({day_label(first)} {first.year})."
    plural = "s" if count != 1 else ""
    if count <= len(recent):
        shows = "this week" if count == 1 else f"all {count}"
        return weeks, (f"{count} week{plural} of history, {since}: the drill calendar and the weekly totals "
                       f"show {shows}.")
    return weeks, (f"{count} weeks of history, {since}: the drill calendar and the weekly totals show the last "
                   f"{len(recent)}.")


def page(report: WeeklyReport, trends: TrendReport, extra: str = "") -> str:
    """The whole page as a string: this week's advice and figures first, then the charts."""
    t = report.totals
    zone = report.zone
    c = t.checkins
    runs = t.run_totals
    planned_days = [d for d in t.drills if d.is_planned]
    title = f"Posture and running: week {t.week}"
    upto = "" if report.today > t.days[-1] else f", up to {day_label(report.today)}"
    a = report.advice
    in_force = "".join(advice_cards(a.in_force, zone))
    cards = "".join([
        _card("Slouch rate", "–" if c.total.slouch_rate is None else pct(c.total.slouch_rate),
              " · ".join(f"{ctx} {pct(c.by_context[ctx].slouch_rate) if c.by_context[ctx].answered else '–'}"
                         for ctx in CONTEXTS)),
        _card("Check-ins answered", f"{c.total.answered}", f"{c.total.missed} missed, {c.total.skipped} skipped"),
        _card("Drill adherence", pct(t.adherence) if t.adherence is not None else "no planned days",
              f"all done on {sum(bool(d.complete) for d in planned_days)} of {len(planned_days)} days"),
        _card("Streak", f"{report.streak} day{'s' if report.streak != 1 else ''}",
              f"every drill done, up to {day_label(report.streak_as_of)}"),
        _card("Circuits", f"{len(t.circuits.done)} of {len(t.circuits.planned_days)}", "done of planned"),
        _card("Runs", f"{runs.distance_km:.1f} km",
              f"{runs.count} run{'s' if runs.count != 1 else ''}, {format_duration(runs.duration)} in total"),
    ])
    run_rows = []
    for p in t.runs:
        exposure = pct(p.exposure.rate) if p.exposure.rate is not None else "–"
        scores = "".join(
            f'<td class="num">{"–" if p.score(r) is None else p.score(r)}</td>' for r in REGIONS
        )
        run_rows.append(
            f"<tr><td>{escape(f'{p.run.start.astimezone(zone):%a %d %b %H:%M}')}</td>"
            f'<td class="num">{p.run.distance_km:.1f}</td><td class="num">{format_duration(p.run.duration)}</td>'
            f'<td class="num">{exposure}</td><td class="num">{p.exposure.answered}</td>{scores}</tr>'
        )
    runs_table = (
        "<table><thead><tr><th>Start</th><th class=num>km</th><th class=num>Time</th>"
        "<th class=num>Slouch 48 h before</th><th class=num>Check-ins</th>"
        + "".join(f"<th class=num>{escape(region_title(r))}</th>" for r in REGIONS)
        + "</tr></thead><tbody>" + "".join(run_rows) + "</tbody></table>"
        if run_rows else "<p>No runs this week.</p>"
    )
    sore_rows = "".join(
        f"<tr><td>{escape(region_title(r))}</td><td class=num>{s.runs}</td>"
        f"<td class=num>{'–' if s.mean is None else f'{s.mean:.1f}'}</td>"
        f"<td class=num>{'–' if s.max is None else s.max}</td></tr>"
        for r, s in t.soreness.items()
    )
    trend_rows = "".join(
        f"<tr><td>{escape(region_title(r))}</td>"
        + "".join(
            f"<td class=num>{'–' if p.trends[r].rho is None else f'{p.trends[r].rho:+.2f}'}</td>"
            f"<td class=num>{p.trends[r].n}</td>"
            for p in (trends.all_history, trends.recent)
        )
        + f"<td>{escape(describe(trends.all_history.trends[r]))}</td></tr>"
        for r in REGIONS
    )
    applied = []
    if a.rest_days:
        applied.append("extra rest days " + ", ".join(day_label(d) for d in a.rest_days))
    if a.pelvic_tilt_days:
        applied.append("pelvic tilts in the drills on " + ", ".join(day_label(d) for d in a.pelvic_tilt_days))
    if a.si_protocol_days:
        applied.append("SI-joint protocol on " + ", ".join(day_label(d) for d in a.si_protocol_days))
    advice_html = "".join(f"<li>{escape(m)}</li>" for m in a.messages)
    applied_html = (f'<p class="applied">This week: {escape("; ".join(applied))}.</p>' if applied else "")
    now_or_then = ("now" if a.as_of >= report.generated_at
                   else f"at the end of the week ({a.as_of.astimezone(zone):%a %d %b})")
    weeks, history_line = shown_weeks(report)
    week_ids = {p.run.id for p in t.runs}
    highlight = [p for p in trends.all_history.points if p.run.id in week_ids]
    figures = {
        "slouch": charts.slouch_by_day(t, report.today),
        "drills": charts.drill_calendar(weeks, report.streak, report.today, report.streak_as_of),
        "weeks": charts.weekly_totals(weeks),
        "runs": charts.exposure_scatter(trends.all_history.points, trends.all_history.trends, highlight),
    }
    marks = ("This week's runs are orange diamonds, earlier runs blue circles." if highlight
             else "Every run is a blue circle (none this week).")
    generated = report.generated_at.astimezone(zone)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="posture-agent">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
<p class="sub">{day_label(t.days[0])} to {day_label(t.days[-1])} {t.days[-1].year}{escape(upto)} · times in
{escape(str(zone))} · made {generated:%Y-%m-%d %H:%M}</p>
<section id="key-figures" aria-label="This week's key figures">
{f'<div class="cards in-force">{in_force}</div>' if in_force else ""}<div class="cards">{cards}</div></section>
<section id="advice" class="advice" aria-label="Advice {escape(now_or_then)}">
<h2>Advice {escape(now_or_then)}</h2>
<ul class="advice">{advice_html}</ul>{applied_html}
</section>
<p class="history" id="history">{escape(history_line)}</p>

<h2>Posture check-ins</h2>
<figure>{figures["slouch"]}
<figcaption>Slouch rate = slouched ÷ (upright + slouched + standing) among answered check-ins; skipped and
missed prompts are left out. A dash means no answers in that context that day.</figcaption></figure>

<h2>Daily drills</h2>
<figure class="half">{figures["drills"]}
<figcaption>Each square is a day; adherence counts the days on which every planned drill was done. Days before
the app was set up (or the first record), and days still to come, are not planned. Today has a dark
outline.</figcaption></figure>

<h2>The last weeks</h2>
<figure>{figures["weeks"]}
<figcaption>Per ISO week: slouch rate and drill adherence (top), kilometres run with the number of runs
(middle), strength circuits planned and done (bottom).</figcaption></figure>

<h2>Runs and soreness</h2>
{runs_table}
<h3>Soreness after this week's runs (first report within 24 h, 0–10)</h3>
<table><thead><tr><th>Region</th><th class=num>Runs with a score</th><th class=num>Mean</th>
<th class=num>Max</th></tr></thead><tbody>{sore_rows}</tbody></table>

<h2>Does slouching go with soreness?</h2>
<figure>{figures["runs"]}
<figcaption>Each point is a run: the slouch rate over answered check-ins in the 48 h before it (at least 3)
against the first soreness score in the 24 h after it. The line is the mean soreness for runs in each 10%
band of slouching (bands with at least 3 runs). {marks}</figcaption></figure>
<table><thead><tr><th rowspan=2>Region</th><th colspan=2 class=num>All history</th>
<th colspan=2 class=num>Last {RECENT_WEEKS} weeks</th><th rowspan=2>In words (all history)</th></tr>
<tr><th class=num>rho</th><th class=num>n</th><th class=num>rho</th><th class=num>n</th></tr></thead>
<tbody>{trend_rows}</tbody></table>
<p class="note">{escape(CAVEAT)}</p>
{extra}
<footer>Made by posture-agent from the records on this computer; nothing was sent anywhere.
Not medical advice: pain that is sharp, radiating, or still there after two weeks needs a doctor or
physiotherapist.</footer>
</main>
</body>
</html>
"""


def write_page(target: Path, report: WeeklyReport, trends: TrendReport, extra: str = "") -> Path:
    """Writes the page atomically (a half-written file never replaces a good one); `extra`: sections
    of other parts (the camera's, report/camera.py), placed before the footer."""
    return write_atomically(target, page(report, trends, extra), prefix=".report-")
