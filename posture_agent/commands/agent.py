"""Commands about the running agent: start, stop, schedule, pause, resume."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import UTC, timedelta
from typing import Any

from posture_agent.commands.calendar import calendar_between
from posture_agent.context import Context, add_json
from posture_agent.domain.pause import PAUSE_CHOICES
from posture_agent.domain.plan import PromptKind
from posture_agent.errors import UserError
from posture_agent.logsetup import record_crashes
from posture_agent.presence.calendar import Meeting
from posture_agent.timeparse import iso, local, parse_at, spoken

log = logging.getLogger(__name__)

MAX_SCHEDULE_DAYS = 60


def register(sub: Any) -> None:
    p = sub.add_parser("start", help="run the agent (one per home): prompts, notifications, tray")
    p.add_argument("--no-tray", action="store_true", help="run without a tray icon (notifications only)")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("stop", help="stop the running agent (as its tray's Quit does)")
    add_json(p)
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("schedule", help="the prompts the agent will show, without showing them")
    p.add_argument("--from", dest="start", metavar="T", help="from this time (ISO 8601; default now)")
    p.add_argument(
        "--days", type=int, default=1, metavar="N", help=f"how many days (1 to {MAX_SCHEDULE_DAYS}, default 1)"
    )
    add_json(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("pause", help="pause the running agent's prompts: 30m, 1h, 2h or tomorrow")
    p.add_argument("duration", choices=PAUSE_CHOICES, help="how long: " + ", ".join(PAUSE_CHOICES))
    add_json(p)
    p.set_defaults(func=cmd_pause)

    p = sub.add_parser("resume", help="resume the running agent's prompts")
    add_json(p)
    p.set_defaults(func=cmd_resume)


def prompt_json(prompt: Any, zone: Any) -> dict[str, Any]:
    return {
        "kind": prompt.kind,
        "context": prompt.context,
        "due": iso(prompt.due),
        "local": local(prompt.due, zone),
        "title": prompt.title(),
        "run_id": prompt.run_id,
        "note": prompt.note or None,
    }


def held_by_json(meeting: Meeting | None, zone: Any) -> dict[str, Any] | None:
    """The meeting that would hold a planned prompt (docs/cli.md), or None."""
    if meeting is None:
        return None
    return {"summary": meeting.summary, "until": local(meeting.end, zone)}


def cmd_schedule(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.domain import plan as planner

    if not 1 <= args.days <= MAX_SCHEDULE_DAYS:
        raise UserError(f"--days {args.days} is out of range (1 to {MAX_SCHEDULE_DAYS})")
    zone = ctx.zone()
    start = (parse_at(args.start, zone, "--from") if args.start else ctx.clock.now()).astimezone(UTC)
    end = start + timedelta(days=args.days)
    journal = ctx.journal()
    history = journal.history(planner.history_start(start), end)
    prompts = planner.plan(ctx.settings(), history, zone, start, end)
    held = held_now(ctx)
    try:
        calendar, calendar_problem = calendar_between(ctx, start, end), None
    except UserError as exc:  # an unreadable calendar holds nothing: the schedule says why
        calendar, calendar_problem = None, str(exc)
    meetings = {id(p): calendar.holding(p.due) if calendar else None for p in prompts}
    data = {
        "from": iso(start), "to": iso(end), "timezone": str(zone),
        "prompts": [{**prompt_json(p, zone), "held_by": held_by_json(meetings[id(p)], zone)} for p in prompts],
        "held": held,
        "calendar_problem": calendar_problem,
    }

    def text() -> list[str]:
        lines: list[str] = [
            f"Held now: {h['kind']}{' ' + h['context'] if h['context'] else ''} "
            f"due {spoken(h['due'], zone, ctx.clock.now())} (held: {h['reason']})"
            for h in held
        ]
        if calendar_problem:
            lines.append(f"Not held by meetings: {calendar_problem}")
        if not prompts:
            return [*lines, f"No prompts from {start.astimezone(zone):%a %d %b %H:%M} for {args.days} day(s)."]
        day = None
        for p in prompts:
            at = p.due.astimezone(zone)
            if at.date() != day:
                day = at.date()
                lines.append(f"{at:%A %d %B %Y}")
            extra = f" ({p.note})" if p.kind == PromptKind.SORENESS and p.note else ""
            meeting = meetings[id(p)]
            if meeting is not None:
                until = meeting.end.astimezone(zone)
                extra += f" (held: {meeting.summary} until {until:%H:%M}" + (
                    ")" if until.date() == at.date() else f" {until:%a %d %b})"
                )
            lines.append(f"  {at:%H:%M}  {p.kind:<9}{(p.context or ''):<6}{p.title()}{extra}")
        return lines

    ctx.emit(data, text)


def held_now(ctx: Context) -> list[dict[str, Any]]:
    """The prompts the running agent holds now because the user is away (none when none runs)."""
    from posture_agent.agent.control import send

    try:
        reply = send(ctx.paths.runtime_dir, {"cmd": "status"}, timeout=2)
    except UserError:
        return []
    return list(reply.get("held", []))


def cmd_pause(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.agent.control import send

    reply = send(ctx.paths.runtime_dir, {"cmd": "pause", "for": args.duration})
    until = spoken(reply.get("paused_until"), ctx.zone(), ctx.clock.now())
    ctx.emit(reply, lambda: f"Paused until {until}." if not reply.get("requested")
             else "Pause requested: the agent applies it within a minute.")


STOP_WAIT_S = 15.0


def cmd_stop(ctx: Context, args: argparse.Namespace) -> None:
    """Ask the running agent to stop, then wait (at most STOP_WAIT_S) until it has let go of the
    home's lock (it has stopped: a second `start` works)."""
    import time

    from posture_agent.agent.control import send
    from posture_agent.agent.lock import InstanceLock

    reply = send(ctx.paths.runtime_dir, {"cmd": "stop"})
    pid = int(reply.get("pid", 0))
    lock = InstanceLock(ctx.paths.runtime_dir)
    deadline = time.monotonic() + STOP_WAIT_S
    gone = False
    while not reply.get("requested"):  # Windows: left as a request, done within a minute
        gone = not lock.held_by_other()
        if gone or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    reply["stopped"] = gone
    ctx.emit(reply, lambda: "Stop requested: the agent stops within a minute." if reply.get("requested")
             else "The agent has stopped." if gone else f"The agent (pid {pid}) is stopping.")


def cmd_resume(ctx: Context, args: argparse.Namespace) -> None:
    from posture_agent.agent.control import send

    reply = send(ctx.paths.runtime_dir, {"cmd": "resume"})
    nxt = reply.get("next_prompt")
    due = spoken(nxt["due"], ctx.zone(), ctx.clock.now()) if nxt else None
    ctx.emit(reply, lambda: "Resumed." + (f" Next prompt: {nxt['title']} at {due}." if nxt else ""))


def cmd_start(ctx: Context, args: argparse.Namespace) -> int:
    """Take the home's lock, start the agent, and run until SIGTERM/SIGINT (SIGHUP reloads the config)."""
    from posture_agent.agent.lock import InstanceLock

    lock = InstanceLock(ctx.paths.runtime_dir)
    lock.acquire()
    record_crashes(ctx.paths.log_file.parent)
    shell = None
    try:
        from posture_agent.welcome import is_first_start

        first = is_first_start(ctx.paths)  # before `prepare` writes the config and makes the database
        app = None if args.no_tray else _tray_app()
        on_main = app is not None and app.TRAY_ON_MAIN_THREAD
        # the icon docks on its own thread while the config and the store open (macOS: on this one)
        shell = app.dock(ctx, serve_here=on_main) if app is not None else None  # None: it said why on stderr
        if app is not None and shell is not None and on_main:
            return int(app.serve_tray_here(shell, lambda: _load_and_run(ctx, args, app, shell, first)))
        return _load_and_run(ctx, args, app, shell, first)
    except BaseException:
        if shell is not None:  # e.g. the store refused to open: take the icon away before the error
            shell.tray.stop()
        raise
    finally:
        lock.release()


def _load_and_run(ctx: Context, args: argparse.Namespace, app: Any, shell: Any, first: bool) -> int:
    """The rest of `start` once the icon is docking: the config and the store, the agent, then the
    tray app's or the headless wait until stopped."""
    from posture_agent.agent.core import AgentCore  # after the icon
    from posture_agent.agent.startup import prepare
    from posture_agent.agent.worker_client import WorkerChores, WorkerJournal, WorkerLink

    link = WorkerLink(ctx.paths)

    def open_data(settings: Any) -> WorkerJournal:
        link.warm(settings, ctx.clock.now())  # the worker opens the store with the full check
        return WorkerJournal(link, settings, ctx.clock)

    # defaults for a broken config; a damaged database stops here. The store is the worker's:
    # this process never loads it (docs/agent.md, "Processes")
    settings, journal = prepare(ctx.paths, open_data)
    ctx.use(settings, None)
    agent = AgentCore(ctx.paths, journal, WorkerChores(link, lambda: agent.settings, ctx.clock), ctx.clock)
    link.tell = lambda line: agent.notifier.notify("posture-agent cannot reach its data", line) \
        if agent.notifier is not None else None
    if app is not None and shell is not None:
        return int(shell.run(agent, welcome=first, on_started=lambda: _say_started(ctx, agent)))
    if app is None and not args.no_tray:
        print(
            "posture-agent: the tray could not be loaded (see the log); running without it "
            "(notifications only). Use --no-tray to skip this message.",
            file=sys.stderr,
        )
    return run_headless(ctx, agent)


def _tray_app() -> Any:
    """The tray shell (`posture_agent.app`: `dock(ctx)`, then the docked app's `run(agent)`), when it
    loads; imported here, not at the top, so the other agent commands never load the GUI."""
    try:
        from posture_agent import app
    except ImportError:
        return None
    except Exception as exc:  # e.g. no display: the agent still runs, headless
        log.warning("the tray could not start (%s: %s); running without it", type(exc).__name__, exc)
        return None
    return app


def started_line(agent: Any) -> str:
    """The one line `start` prints once the icon is docked and the agent runs."""
    from posture_agent.ui.tray import tray_state_from  # the words and times the tray's menu shows

    state = tray_state_from(agent.status(), agent.journal.zone)
    when = f" (next: {state.next_prompt} at {state.when(state.next_at)})" if state.next_at is not None else ""
    return f"posture-agent is running: its icon is in the system tray{when}. Quit from its menu."


def _say_started(ctx: Context, agent: Any) -> None:
    ctx.out.write(started_line(agent) + "\n")
    ctx.out.flush()


def run_headless(ctx: Context, agent: Any) -> int:
    from posture_agent.agent.events import STOP_WANTED
    from posture_agent.agent.signals import route_signals

    stop = threading.Event()
    route_signals(stop.set, agent.reload_config)
    agent.subscribe(lambda event: stop.set() if event.kind == STOP_WANTED else None)
    agent.start()
    status = agent.status()
    nxt = status.next_prompt
    zone = ctx.zone()
    when = f"; next: {nxt.title()} at {nxt.due.astimezone(zone):%a %H:%M}" if nxt else ""
    ctx.out.write(f"posture-agent running without a tray (stop with Ctrl+C or `posture-agent stop`){when}\n")
    ctx.out.flush()
    try:
        while not stop.wait(3600):
            pass
    finally:
        agent.stop()
    return 0
