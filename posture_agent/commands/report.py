"""`report` (the weekly summary, as text, JSON or an HTML page) and `trends` (sitting against soreness)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from posture_agent.context import Context, add_json
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
    add_json(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("trends", help="does slouching before runs go with soreness after them?")
    add_json(p)
    p.set_defaults(func=cmd_trends)


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
    report = build_report(ctx.store(), ctx.settings(), ctx.clock.now(), year, week, weeks=weeks)
    if target is not None:
        from posture_agent.report.html import write_page
        from posture_agent.report.trends import build_trends

        trends = build_trends(ctx.store(), ctx.settings(), ctx.clock.now())
        write_page(target, report, trends)
    data = report_json(report)

    def text() -> list[str]:
        from posture_agent.report.text import report_text

        lines = report_text(report)
        if target is not None:
            lines += ["", f"HTML page: {target}"]
        return lines

    if target is not None:
        data["html"] = str(target)
    ctx.emit(data, text)
    if target is not None and args.open:
        import webbrowser

        if not webbrowser.open(target.resolve().as_uri()):
            raise UserError(f"no browser could be opened; the page is at {target}")


def cmd_trends(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.report.trends import build_trends, trends_json, trends_text

    report = build_trends(ctx.store(), ctx.settings(), ctx.clock.now())
    ctx.emit(trends_json(report), lambda: trends_text(report))
