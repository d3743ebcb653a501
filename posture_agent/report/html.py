"""The weekly report as one self-contained HTML file: inline CSS, inline SVG charts and a few lines of
script (only to save a chart on its own), nothing fetched from anywhere, so it opens offline and
prints cleanly.

The page answers the user's question first (does slouching before runs go with soreness after?),
then shows the chosen week: the advice in force, the cards with the change from the week before,
the habit rows, the week's charts. The year of weeks before it is in the same file, each week a
section reached by its anchor (`#2026-W47`) from the previous / next links (CSS `:target`, no
script), so a history of any length stays one file of bounded size. Below the weeks: the year's
drill heatmap, slouching by weekday and hour, the runs of the last months and the trend scatter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta, tzinfo
from html import escape
from pathlib import Path

from posture_agent.domain import advice as rules
from posture_agent.domain import exposure as ex
from posture_agent.domain import figures as f
from posture_agent.domain import habits as hb
from posture_agent.domain.records import CONTEXTS, REGIONS
from posture_agent.outputs import write_atomically
from posture_agent.report import charts
from posture_agent.report.text import applied_lines, day_label, form_words, habit_title, pct, score_change
from posture_agent.report.trends import CAVEAT, RECENT_WEEKS, TrendReport, answer, describe, region_title
from posture_agent.report.weekly import PATTERN_WEEKS, Applied, WeeklyReport
from posture_agent.timeparse import format_duration

SHOWN_WEEKS = 52
"""Weeks embedded in one page, ending with the chosen one (older ones: `report --week … --html`)."""
RUN_MONTHS = 3
"""The runs table and timeline cover about this many months up to the chosen week."""

CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --ink: #222222; --muted: #5a5a5a; --rule: #d0d0d0;
  --panel: #f3f8fc; --accent: #0072B2; --alert: #D55E00; --alert-bg: #fff4ec; --good: #00785a;
  --bad: #b34700; --desk: #0072B2; --car: #E69F00; --sofa: #009E73; --all: #08519c; --some: #9ecae1;
  --none: #ffffff; --unplanned: #e9e9e9; --th: #f4f4f4; }
@media screen and (prefers-color-scheme: dark) {  /* print keeps the light colours */
  :root { --bg: #16181c; --ink: #e8e8e8; --muted: #a8a8a8; --rule: #3c4048; --panel: #1d2a36;
    --accent: #56B4E9; --alert: #ff8c4a; --alert-bg: #3a2418; --good: #5fd3a4; --bad: #ff9d66;
    --desk: #56B4E9; --car: #F0C05A; --sofa: #3fc79b; --all: #4a9ee0; --some: #2a5573; --none: #16181c;
    --unplanned: #2a2d33; --th: #23262c; }
}
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
       background: var(--bg); margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 16px 28px 40px; }
a { color: var(--accent); }
h1 { font-size: 1.35rem; margin: 0; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 1rem; margin: 18px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 10px; font-size: .85rem; }
section.answer { border-left: 5px solid var(--accent); background: var(--panel); padding: 8px 14px;
  margin: 6px 0 10px; }
section.answer h2 { font-size: 1rem; margin: 0 0 2px; border: 0; padding: 0; color: var(--muted); font-weight: 600; }
section.answer .verdict { font-size: 1.2rem; font-weight: 600; margin: 0; }
section.answer .how { margin: 2px 0 0; font-size: .9rem; }
nav.weeks { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin: 4px 0 6px; }
nav.weeks .here { font-weight: 600; font-size: 1.1rem; }
nav.weeks .edge { color: var(--muted); font-size: .85rem; }
section.week { display: none; }
section.week.current, section.week:target { display: block; }
main:has(section.week:target) section.week.current:not(:target) { display: none; }
.advice { border-left: 4px solid var(--accent); padding: 4px 12px; margin: 6px 0 10px; }
.advice h3 { margin: 0 0 2px; font-size: .95rem; }
.advice ul { margin: 0; padding-left: 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px; }
.card { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px; padding: 6px 10px; }
.card .label { color: var(--muted); font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card .detail, .card .change { color: var(--muted); font-size: .8rem; }
.card .change.good { color: var(--good); } .card .change.bad { color: var(--bad); }
.cards.in-force { grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); margin-bottom: 8px; }
.card.alert { border-left-color: var(--alert); background: var(--alert-bg); }
figure { margin: 12px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figure svg.chart { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: 4px; }
a.save { font-size: .8rem; margin-left: 8px; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { font-weight: 600; background: var(--th); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { border-left: 4px solid var(--car); padding: 8px 12px; margin: 12px 0; }
footer { color: var(--muted); font-size: .8rem; margin-top: 36px; border-top: 1px solid var(--rule); padding-top: 8px; }
@media print {
  :root { --ink: #000000; --muted: #444444; --panel: #ffffff; --alert-bg: #ffffff; --th: #eeeeee; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav.weeks a, a.save { display: none; }
  h2, h3 { break-after: avoid; }
  table, .note, .cards { break-inside: avoid; }
  @page { margin: 14mm; }
}
"""

SCRIPT = """
document.addEventListener('click', function (event) {
  var link = event.target.closest('a.save');
  if (!link) return;
  var svg = document.getElementById(link.dataset.chart).cloneNode(true);
  var root = getComputedStyle(document.documentElement);
  var names = ['--bg','--ink','--muted','--rule','--accent','--alert','--desk','--car','--sofa','--all',
               '--some','--none','--unplanned'];
  var vars = names.map(function (n) { return n + ':' + root.getPropertyValue(n).trim(); }).join(';');
  var style = document.createElementNS('http://www.w3.org/2000/svg', 'style');
  style.textContent = 'svg.chart{' + vars + ';background:' + root.getPropertyValue('--bg').trim() + '}'
    + document.getElementById('chart-css').textContent;
  svg.insertBefore(style, svg.firstChild);
  var blob = new Blob([new XMLSerializer().serializeToString(svg)], {type: 'image/svg+xml'});
  link.href = URL.createObjectURL(blob);
});
"""
"""Saving a chart on its own: the SVG with the page's colours (light or dark, as shown) put inside."""

def _card(label: str, value: str, detail: str = "", kind: str = "", change: tuple[str, str] = ("", "")) -> str:
    cls = f"card {kind}" if kind else "card"
    words, tone = change
    changed = f'<div class="change {tone}">{escape(words)}</div>' if words else ""
    return (f'<div class="{cls}"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
            f'<div class="detail">{escape(detail)}</div>{changed}</div>')


def _when(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return day_label(day)


def advice_cards(advice: rules.Advice | None, zone: tzinfo) -> list[str]:
    """The advice in force now as cards, ahead of the week's figures: what to do (or not) today."""
    if advice is None:
        return []
    today = advice.now.astimezone(zone).date()
    cards = []
    p = advice.si_protocol
    if p is not None:
        ice = ", ".join(t.strftime("%H:%M") for t in p.ice_times)
        again = p.running_again or rules.running_again(p.started, zone)
        cards.append(_card("SI-joint protocol", f"day {p.day} of {p.days}",
                           f"no running; running again {again:%a %d %b}; ice at {ice}", "alert"))
    if advice.rest_days:
        more = len(advice.rest_days) - 1
        cards.append(_card("Extra rest day", _when(advice.rest_days[0], today),
                           "back sore after the last run" + (f"; {more} more after it" if more else ""), "alert"))
    if advice.pelvic_tilts_until is not None:
        cards.append(_card("Pelvic tilts", f"until {day_label(advice.pelvic_tilts_until)}",
                           "in the daily drills (lower back sore)", "alert"))
    return cards


def _change(now: float | None, before: float | None, unit: str, scale: float = 1.0, lower_is_better: bool = False,
            digits: int = 0, running: bool = False) -> tuple[str, str]:
    """("▲ 5 pts from last week", "good"), or ("", "") without both figures. `running`: a count of a
    week not over yet, against the whole of last week, which the words then say."""
    if now is None or before is None:
        return ("", "")
    delta = round((now - before) * scale, digits)
    whole = f" ({before * scale:.{digits}f}{unit})" if running else ""
    if delta == 0:
        return (f"= same as {'all of ' if running else ''}last week", "")
    arrow = "▲" if delta > 0 else "▼"
    tone = "" if running else "good" if (delta < 0) == lower_is_better else "bad"
    amount = f"{abs(delta):.{digits}f}"
    return (f"{arrow} {amount}{unit} from {'all of ' if running else ''}last week{whole}", tone)


def week_cards(week: f.WeekTotals, before: f.WeekTotals | None, streak: int, streak_before: int | None,
               today: date) -> str:
    """The week's cards, each with its change from the week before: rates and the streak as they
    are; counts of a week still running against all of last week, said so and toned neutral."""
    c, runs = week.checkins, week.run_totals
    running = today < week.days[-1]
    b = before
    planned_days = [d for d in week.drills if d.is_planned]
    cards = [
        _card("Slouch rate", "–" if c.total.slouch_rate is None else pct(c.total.slouch_rate),
              " · ".join(f"{ctx} {pct(c.by_context[ctx].slouch_rate) if c.by_context[ctx].answered else '–'}"
                         for ctx in CONTEXTS),
              change=_change(c.total.slouch_rate, b.checkins.total.slouch_rate if b else None, " pts", 100, True)),
        _card("Check-ins answered", f"{c.total.answered}", f"{c.total.missed} missed, {c.total.skipped} skipped",
              change=(_change(c.total.answered, b.checkins.total.answered if b else None, "", running=running)[0], "")),
        _card("Drill adherence", pct(week.adherence) if week.adherence is not None else "no planned days",
              f"all done on {sum(bool(d.complete) for d in planned_days)} of {len(planned_days)} days",
              change=_change(week.adherence, b.adherence if b else None, " pts", 100)),
        _card("Streak", f"{streak} day{'s' if streak != 1 else ''}", "every drill done, in a row",
              change=_change(streak, streak_before, " days")),
        _card("Circuits", f"{len(week.circuits.done)} of {len(week.circuits.planned_days)}", "done of planned",
              change=_change(len(week.circuits.done), len(b.circuits.done) if b else None, "", running=running)),
        _card("Runs", f"{runs.distance_km:.1f} km",
              f"{runs.count} run{'s' if runs.count != 1 else ''}, {format_duration(runs.duration)} in total",
              change=(_change(runs.distance_km, b.run_totals.distance_km if b else None, " km", digits=1,
                              running=running)[0], "")),
    ]
    return "".join(cards)


def habits_table(rows: Sequence[hb.HabitFigures]) -> str:
    body = []
    for h in rows:
        score = "–" if h.score is None else f"{h.score * 100:.0f}%"
        change = score_change(h)
        body.append(
            f"<tr><td>{escape(habit_title(h.name))}</td><td class=num>{h.current_streak} "
            f"{h.unit if h.current_streak != 1 else h.unit[:-1]}</td>"
            f"<td class=num>{h.best_streak}</td><td class=num>{score}</td><td class=num>{escape(change)}</td>"
            f"<td class=num>{h.kept} of {h.planned}</td></tr>")
    return ("<table class=habits><thead><tr><th>Habit</th><th class=num>Streak now</th><th class=num>Best</th>"
            "<th class=num>Habit score</th><th class=num>Over 7 days</th><th class=num>Kept</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def runs_table(points: Sequence[ex.RunPoint], zone: tzinfo, empty: str) -> str:
    rows = []
    for p in points:
        exposure = pct(p.exposure.rate) if p.exposure.rate is not None else "–"
        scores = "".join(f'<td class="num">{"–" if p.score(r) is None else p.score(r)}</td>' for r in REGIONS)
        rows.append(
            f"<tr><td>{escape(f'{p.run.start.astimezone(zone):%a %d %b %H:%M}')}</td>"
            f'<td class="num">{p.run.distance_km:.1f}</td><td class="num">{format_duration(p.run.duration)}</td>'
            f'<td class="num">{exposure}</td><td class="num">{p.exposure.answered}</td>{scores}'
            f"<td>{escape(form_words(p))}</td></tr>")
    if not rows:
        return f"<p>{escape(empty)}</p>"
    return ("<table><thead><tr><th>Start</th><th class=num>km</th><th class=num>Time</th>"
            "<th class=num>Slouch 48 h before</th><th class=num>Check-ins</th>"
            + "".join(f"<th class=num>{escape(region_title(r))}</th>" for r in REGIONS)
            + "<th>Form self-check</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def figure(chart: charts.Chart, key: str, name: str) -> str:
    return (f'<figure>{chart.svg}<figcaption>{escape(chart.caption)}<a class="save" href="#" data-chart="{key}" '
            f'download="{escape(name)}.svg">Save this chart (SVG)</a></figcaption></figure>')


def week_section(report: WeeklyReport, i: int, weeks: Sequence[f.WeekTotals], first_shown: int,
                 days: Mapping[date, f.DrillDay]) -> str:
    """One week of the page: its navigation, advice, cards, habit rows and charts."""
    week = weeks[i]
    zone, today = report.zone, report.today
    chosen = i == len(weeks) - 1
    key = week.week
    prev_week = weeks[i - 1].week if i > first_shown else None
    older = weeks[first_shown].days[0] - timedelta(days=7)
    if prev_week:
        prev = f'<a href="#{prev_week}" rel="prev">‹ {prev_week}</a>'
    elif report.first_day is not None and older >= report.first_day - timedelta(days=6):
        label = f"{older.isocalendar()[0]}-W{older.isocalendar()[1]:02d}"
        prev = f'<span class="edge">older: posture-agent report --week {label} --html FILE</span>'
    elif report.first_day is not None and week.days[-1] < report.first_day:
        prev = '<span class="edge">before your first record</span>'
    else:
        prev = '<span class="edge">the first week of your history</span>'
    if not chosen:
        nxt = f'<a href="#{weeks[i + 1].week}" rel="next">{weeks[i + 1].week} ›</a>'
    elif week.days[-1] < today:
        later = week.days[-1] + timedelta(days=1)
        nxt = (f'<span class="edge">later: posture-agent report --week {later.isocalendar()[0]}-W'
               f'{later.isocalendar()[1]:02d} --html FILE</span>')
    else:
        nxt = '<span class="edge">this week</span>'
    upto = "" if today > week.days[-1] else f", up to {day_label(today)}"
    nav = (f'<nav class="weeks" aria-label="Weeks">{prev}<span class="here">Week {key}: {day_label(week.days[0])} '
           f"to {day_label(week.days[-1])} {week.days[-1].year}{escape(upto)}</span>{nxt}</nav>")
    habits = report.week_habits[i] if report.week_habits else report.habits
    whole = next((h for h in habits if h.name == "all-drills"), None)
    streak = whole.current_streak if whole else 0
    before = report.week_habits[i - 1] if i > 0 and report.week_habits else None
    streak_before = next((h.current_streak for h in before if h.name == "all-drills"), None) if before else None
    cards = week_cards(week, weeks[i - 1] if i > 0 else None, streak, streak_before, today)
    a = report.advice
    live = chosen and a.as_of >= report.generated_at
    if live:
        in_force = "".join(advice_cards(a.in_force, zone))
        lines = list(a.messages)
        advice_title = "Advice now"
    else:
        in_force = ""
        applied = report.applied[i] if report.applied else Applied(a.rest_days, a.pelvic_tilt_days, a.si_protocol_days)
        lines = [*applied_lines(applied), rules.NOT_MEDICAL_ADVICE]
        advice_title = f"What applied that week ({day_label(week.days[0])} to {day_label(week.days[-1])})"
    ids = ' id="key-figures"' if chosen else ""
    advice_id = ' id="advice"' if chosen else ""
    advice = (f'<div class="advice"{advice_id} aria-label="{escape(advice_title)}"><h3>{escape(advice_title)}</h3>'
              f'<ul>{"".join(f"<li>{escape(m)}</li>" for m in lines)}</ul></div>')
    forced = f'<div class="cards in-force">{in_force}</div>' if in_force else ""
    last = min(today, week.days[-1])
    slouch = charts.slouch_by_day(week, today, f"chart-slouch-{key}")
    month = charts.month_calendar(days, last.year, last.month, today, f"chart-month-{key}")
    as_of = min(today, week.days[-1])
    return f"""<section class="week{' current' if chosen else ''}" id="{key}">
{nav}
{advice}
<section{ids} class="figures" aria-label="Key figures of {key}">{forced}<div class="cards">{cards}</div></section>
<h3>Habits at the end of {day_label(as_of)}</h3>
{habits_table(habits)}
<p class="sub">Habit score: Loop Habit Tracker's smoothed completion rate (one miss lowers it a little, a
fortnight of misses halves it); streaks count kept days (the circuit: kept circuit days) in a row.</p>
<div class="row">{figure(slouch, f"chart-slouch-{key}", f"slouch-{key}")}
{figure(month, f"chart-month-{key}", f"drills-{last:%Y-%m}")}</div>
<h3>Runs of {key}</h3>
{runs_table(week.runs, zone, "No runs this week.")}
</section>"""


def history_line(report: WeeklyReport, shown: int) -> str:
    first = report.first_day
    t = report.totals
    if first is None:
        return "No records yet."
    count = (t.days[0] - (first - timedelta(days=first.weekday()))).days // 7 + 1
    if count <= 0:
        return f"This week is before your first record ({day_label(first)} {first.year})."
    plural = "s" if count != 1 else ""
    reach = "all of them are" if count <= shown else f"the last {shown} are"
    return (f"{count} week{plural} of history, since {day_label(first)} {first.year}: {reach} in this page "
            "(use the ‹ › links).")


def page(report: WeeklyReport, trends: TrendReport, extra: str = "") -> str:
    """The whole page as a string: the answer, the chosen week (and the weeks before it), then the
    charts; `extra`: sections of other parts (the camera's) before the footer."""
    t = report.totals
    zone = report.zone
    weeks = list(report.recent or (t,))
    first_shown = next((i for i, w in enumerate(weeks) if report.first_day and w.days[-1] >= report.first_day),
                       len(weeks) - 1)
    first_shown = max(first_shown, len(weeks) - SHOWN_WEEKS)
    days = {d.day: d for d in report.history}
    sections = "\n".join(week_section(report, i, weeks, first_shown, days) for i in range(first_shown, len(weeks)))
    reply = answer(trends.all_history)
    generated = report.generated_at.astimezone(zone)
    last = min(report.today, t.days[-1])
    year = charts.year_heatmap(days, last, report.today)
    weekday = charts.rate_bars(f"Slouch rate by weekday, {PATTERN_WEEKS} weeks to {t.week}",
                               ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], report.by_weekday,
                               "chart-weekday", f"per weekday over the {PATTERN_WEEKS} weeks to {t.week}")
    hours = charts.rate_bars(f"Slouch rate by hour, {PATTERN_WEEKS} weeks to {t.week}",
                             [f"{h:02d}" for h in f.WORKING_HOURS], report.by_hour, "chart-hour",
                             f"per hour of the day ({f.WORKING_HOURS[0]:02d}:00 to {f.WORKING_HOURS[-1]:02d}:59) over "
                             f"the {PATTERN_WEEKS} weeks to {t.week}")
    since = last - timedelta(days=RUN_MONTHS * 30)
    recent_runs = [p for p in trends.all_history.points if since <= p.run.start.astimezone(zone).date() <= last]
    timeline = charts.soreness_timeline(recent_runs, since, last, zone)
    week_ids = {p.run.id for p in t.runs}
    highlight = [p for p in trends.all_history.points if p.run.id in week_ids]
    scatter = charts.exposure_scatter(trends.all_history.points, trends.all_history.trends, highlight)
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
    title = f"Posture and running: week {t.week}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="posture-agent">
<title>{escape(title)}</title>
<style>{CSS}</style>
<style id="chart-css">{charts.CHART_CSS}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
<p class="sub">Times in {escape(str(zone))} · made {generated:%Y-%m-%d %H:%M} · <span id="history">{escape(
        history_line(report, len(weeks) - first_shown))}</span></p>
<section id="answer" class="answer" aria-label="The answer">
<h2>Does slouching before runs go with soreness after, for you?</h2>
<p class="verdict">{escape(reply.verdict)}</p>
<p class="how">{escape(reply.how_sure)} {escape(reply.surer)}</p>
</section>
{sections}

<h2>Drills over the year</h2>
{figure(year, "chart-year", f"drills-year-to-{last.isoformat()}")}

<h2>Where and when slouching happens</h2>
<div class="row">{figure(weekday, "chart-weekday", f"slouch-by-weekday-{t.week}")}
{figure(hours, "chart-hour", f"slouch-by-hour-{t.week}")}</div>

<h2>Runs and soreness, {day_label(since)} to {day_label(last)}</h2>
{figure(timeline, "chart-timeline", f"runs-to-{last.isoformat()}")}
{runs_table(recent_runs, zone, "No runs in these months.")}

<h2>Does slouching go with soreness? All your runs</h2>
{figure(scatter, "chart-runs", "slouching-and-soreness")}
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
<script>{SCRIPT}</script>
</body>
</html>
"""


def write_page(target: Path, report: WeeklyReport, trends: TrendReport, extra: str = "") -> Path:
    """Writes the page atomically (a half-written file never replaces a good one); `extra`: sections
    of other parts (the camera's, report/agreement.py), placed before the footer."""
    return write_atomically(target, page(report, trends, extra), prefix=".report-")
