"""`report`: the weekly summary, as text, JSON or an HTML page (with the trends, commands/trends.py)."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import Any

from posture_agent.commands.trends import trends_from_store
from posture_agent.context import Context, add_json, add_source
from posture_agent.domain.days import week_bounds
from posture_agent.errors import UserError
from posture_agent.outputs import refuse_own_file
from posture_agent.timeparse import parse_week

HTML_WEEKS = 53
"""Weeks the page reads, ending with the chosen one: 52 shown, and the one before them for their change."""


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="the weekly summary (text, --json, or an HTML page with charts)")
    p.add_argument("--week", metavar="YYYY-Www", help="an ISO week, e.g. 2026-W47 (default: this week)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with charts")
    p.add_argument("--open", action="store_true", help="open the HTML page in the default browser")
    add_source(p)
    add_json(p)
    p.set_defaults(func=cmd_report)


def camera_part(ctx: Context, args: argparse.Namespace, start: datetime | None, end: datetime,
                data: dict[str, Any]) -> tuple[list[str], str]:
    """The camera's part of a report (report/camera.py, report/agreement.py): added to `data`; its
    text lines and its HTML section returned."""
    from posture_agent.report.agreement import agreement_html, agreement_json, agreement_text
    from posture_agent.report.camera import camera_agreement

    a = camera_agreement(ctx.store(), start, end)
    data["camera"] = agreement_json(a, args.source)
    return agreement_text(a, args.source), agreement_html(a, args.source)


def chosen_week(ctx: Context, text: str | None) -> tuple[int, int]:
    today = ctx.clock.now().astimezone(ctx.zone()).date()
    if not text:
        year, week, _ = today.isocalendar()
        return year, week
    year, week = parse_week(text)
    if date.fromisocalendar(year, week, 1) > today:
        raise UserError(f"--week {text} has not started yet (this week is {today.isocalendar()[0]}-W"
                        f"{today.isocalendar()[1]:02d})")
    return year, week


def html_target(ctx: Context, args: argparse.Namespace, week: str) -> Path | None:
    if args.html:
        target = Path(args.html).expanduser()
        if target.is_dir():
            raise UserError(f"--html {args.html}: is a folder; give a file name such as report.html")
        if not target.parent.is_dir():
            raise UserError(f"--html {args.html}: the folder {target.parent} does not exist")
        refuse_own_file(target, ctx.paths, "--html")
        return target
    if args.open:
        folder = ctx.paths.data_dir / "reports"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder / f"report-{week}.html"
    return None


def cmd_report(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.report.weekly import build_report, report_json

    year, week = chosen_week(ctx, args.week)
    label = f"{year}-W{week:02d}"
    target = html_target(ctx, args, label)
    weeks = HTML_WEEKS if target else 1
    report = build_report(ctx.store(), ctx.settings(), ctx.clock.now(), year, week, weeks=weeks, source=args.source)
    data = report_json(report)
    camera_lines, camera_html = camera_part(ctx, args, *week_bounds(year, week, ctx.zone()), data)
    if target is not None:
        from posture_agent.report.html import write_page
        from posture_agent.report.trends import build_trends

        trends = build_trends(trends_from_store(ctx, ctx.clock.now(), args.source), ctx.zone(), ctx.clock.now())
        write_page(target, report, trends, camera_html)

    def text() -> list[str]:
        from posture_agent.report.text import report_text

        lines = report_text(report) + camera_lines
        if target is not None:
            lines += ["", f"HTML page: {target}"]
        return lines

    if target is not None:
        data["html"] = str(target)
    ctx.emit(data, text)
    if target is not None and args.open:
        from posture_agent.browser import open_page

        if not open_page(target):
            raise UserError(f"no browser could be opened; the page is at {target}")

