"""Commands that record and read the user's day: checkin, drills, drill, circuit, run, soreness, advice."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, tzinfo
from typing import Any

from posture_agent.commands import imports
from posture_agent.context import Context, add_json
from posture_agent.domain import records as r
from posture_agent.timeparse import format_duration, iso, local, parse_at, parse_date, parse_duration, spoken


def at_arg(ctx: Context, args: argparse.Namespace, name: str = "at") -> datetime | None:
    value = getattr(args, name, None)
    return parse_at(value, ctx.zone(), "--" + name.replace("_", "-")) if value else None


REGION_WORDS = {
    "upper_back": "upper back, shoulder blades and up",
    "mid_back": "middle back, below the shoulder blades",
    "lower_back": "lower back, above the pelvis (sore: pelvic tilts join the drills)",
    "si_joint": "SI joint, where the spine meets the pelvis (sore: the SI protocol)",
}


def register(sub: Any) -> None:
    p = sub.add_parser("checkin", help="record a posture check-in")
    p.add_argument("posture", help="upright, slouched, standing or skipped")
    p.add_argument("--context", default="desk", help="desk, car or sofa (default desk)")
    p.add_argument("--at", metavar="T", help="when (ISO 8601; local if no offset); default now")
    add_json(p)
    p.set_defaults(func=cmd_checkin)

    p = sub.add_parser("drills", help="today's drills and whether each is done")
    p.add_argument("--date", metavar="D", help="another day, YYYY-MM-DD")
    add_json(p)
    p.set_defaults(func=cmd_drills)

    p = sub.add_parser("drill", help="tick drills off or take a tick back: drill done|untick NAME…")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = dsub.add_parser("done", help="record drills as done")
    d.add_argument("names", nargs="+", metavar="NAME", help="drill names, as `drills` lists them")
    d.add_argument("--at", metavar="T", help="when (ISO 8601; local if no offset); default now")
    add_json(d)
    d.set_defaults(func=cmd_drill_done)
    d = dsub.add_parser("untick", help="take back drills ticked on a day")
    d.add_argument("names", nargs="+", metavar="NAME", help="drill names ticked that day")
    d.add_argument("--at", metavar="T", help="a time on the day (default: today)")
    add_json(d)
    d.set_defaults(func=cmd_drill_untick)

    p = sub.add_parser("circuit", help="record a back-strength circuit: circuit done")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = csub.add_parser("done", help="record a circuit as done")
    c.add_argument("--rounds", type=int, metavar="N", help="rounds done (default from the config, 2)")
    c.add_argument("--at", metavar="T", help="when (ISO 8601; local if no offset); default now")
    add_json(c)
    c.set_defaults(func=cmd_circuit_done)

    p = sub.add_parser("run", help="log, list and import runs")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = rsub.add_parser("add", help="log a run")
    a.add_argument("--distance-km", required=True, type=float, metavar="X", help="distance in km, e.g. 10.5")
    a.add_argument("--duration", required=True, metavar="D", help="e.g. 45:30, 1:02:03, 50m")
    a.add_argument("--at", metavar="START", help="when it started (default: ended just now)")
    add_json(a)
    a.set_defaults(func=cmd_run_add)
    ls = rsub.add_parser("list", help="list runs")
    add_json(ls)
    ls.set_defaults(func=cmd_run_list)
    de = rsub.add_parser("delete", help="delete a run (kept as a tombstone)")
    de.add_argument("id", metavar="ID", help="the run's id or a unique prefix (see run list)")
    add_json(de)
    de.set_defaults(func=cmd_run_delete)
    ed = rsub.add_parser("edit", help="change a run's distance, duration or start")
    ed.add_argument("id", metavar="ID", help="the run's id or a unique prefix (see run list)")
    ed.add_argument("--distance-km", type=float, metavar="X", help="the right distance in km")
    ed.add_argument("--duration", metavar="D", help="e.g. 45:30, 1:02:03, 50m")
    ed.add_argument("--at", metavar="START", help="when it started")
    add_json(ed)
    ed.set_defaults(func=cmd_run_edit)
    imports.register_run_import(rsub)

    p = sub.add_parser("soreness", help="report how the back feels, 0-10 per region")
    for region in r.REGIONS:
        p.add_argument("--" + region.replace("_", "-"), type=int, metavar="N", dest=region,
                       help=f"{REGION_WORDS[region]}: 0 (no pain) to 10")
    p.add_argument("--si-pain", action="store_true", help="I have SI joint pain (starts the SI protocol)")
    p.add_argument(
        "--form", action="append", default=[], metavar="NOTE",
        help="form self-check, repeatable: " + ", ".join(r.FORM_FLAGS),
    )
    p.add_argument("--run", metavar="ID", help="the run this is about (default: one that ended in the last 24 h)")
    p.add_argument("--at", metavar="T", help="when (ISO 8601; local if no offset); default now")
    add_json(p)
    p.set_defaults(func=cmd_soreness)

    p = sub.add_parser("undo", help="take back the last record made on this computer")
    add_json(p)
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("advice", help="what applies now: rest day, pelvic tilts, SI protocol")
    p.add_argument("--end-protocol", action="store_true", help="end the SI-joint protocol early")
    p.add_argument("--at", metavar="T", help=argparse.SUPPRESS)
    add_json(p)
    p.set_defaults(func=cmd_advice)


def cmd_checkin(ctx: Context, args: argparse.Namespace) -> None:
    c = ctx.journal().record_checkin(args.posture.lower(), args.context.lower(), at_arg(ctx, args))
    ctx.emit(
        {"id": c.id, "at": iso(c.at), "local": local(c.at, ctx.zone()), "context": c.context, "posture": c.posture},
        lambda: f"Check-in saved: {c.posture} at the {c.context}, {c.at.astimezone(ctx.zone()):%a %H:%M}.",
    )


def cmd_drills(ctx: Context, args: argparse.Namespace) -> None:
    journal = ctx.journal()
    day = parse_date(args.date) if args.date else journal.today()
    states = journal.drills_for(day)
    data = {
        "date": day.isoformat(),
        "all_done": all(s.done for s in states),
        "drills": [
            {"name": s.drill.name, "title": s.drill.title, "dose": s.drill.dose, "how": s.drill.how,
             "done": s.done, "done_at": iso(s.done_at)}
            for s in states
        ],
    }

    def text() -> list[str]:
        lines = [f"Drills for {day:%A %d %B %Y}:"]
        for s in states:
            lines.append(f"  [{'x' if s.done else ' '}] {s.drill.name:<16} {s.drill.title} — {s.drill.dose}")
        lines.append("All done, well done." if data["all_done"] else "Tick one off: posture-agent drill done NAME")
        return lines

    ctx.emit(data, text)


def cmd_drill_done(ctx: Context, args: argparse.Namespace) -> None:
    done = ctx.journal().record_drills([n.lower() for n in args.names], at_arg(ctx, args))
    ctx.emit(
        {"recorded": [{"id": d.id, "drill": d.drill, "at": iso(d.at)} for d in done]},
        lambda: "Done: " + ", ".join(d.drill for d in done),
    )


def taken_back_json(taken: Any, zone: tzinfo) -> dict[str, Any]:
    """What was taken back: its kind and each record's id and time (the shape of `undo --json`)."""
    return {
        "kind": taken.kind,
        "records": [record_json(x, zone) for x in taken.records],
        "restored": run_json(taken.restored, zone) if taken.restored is not None else None,
    }


def record_json(x: Any, zone: tzinfo) -> dict[str, Any]:
    if isinstance(x, r.Run):
        return run_json(x, zone)
    out: dict[str, Any] = {"id": x.id, "at": iso(x.at), "local": local(x.at, zone)}
    if isinstance(x, r.CheckIn):
        out.update(context=x.context, posture=x.posture)
    elif isinstance(x, r.DrillDone):
        out.update(drill=x.drill)
    elif isinstance(x, r.Circuit):
        out.update(rounds=x.rounds)
    elif isinstance(x, r.Soreness):
        out.update({k: x.region(k) for k in r.REGIONS}, run_id=x.run_id, si_pain=x.si_pain_reported)
    return out


def cmd_drill_untick(ctx: Context, args: argparse.Namespace) -> None:
    taken = ctx.journal().untick_drills([n.lower() for n in args.names], at_arg(ctx, args))
    zone = ctx.zone()
    ctx.emit(
        {"removed": [{"id": d.id, "drill": d.drill, "at": iso(d.at), "local": local(d.at, zone)}
                     for d in taken.records]},
        lambda: "Unticked: " + ", ".join(f"{d.drill} (ticked {spoken(d.at, zone, ctx.clock.now())})"
                                         for d in taken.records),
    )


def cmd_undo(ctx: Context, args: argparse.Namespace) -> None:
    taken = ctx.journal().undo()
    ctx.emit(taken_back_json(taken, ctx.zone()), lambda: taken.describe(ctx.zone(), ctx.clock.now()))


def cmd_circuit_done(ctx: Context, args: argparse.Namespace) -> None:
    c = ctx.journal().record_circuit(args.rounds, at_arg(ctx, args))
    ctx.emit(
        {"id": c.id, "at": iso(c.at), "rounds": c.rounds},
        lambda: f"Strength circuit saved: {c.rounds} round{'s' if c.rounds != 1 else ''}.",
    )


def run_json(run: r.Run, zone: tzinfo) -> dict[str, Any]:
    seconds = run.duration.total_seconds()
    return {
        "id": run.id,
        "start": iso(run.start),
        "start_local": local(run.start, zone),
        "end": iso(run.end),
        "duration_s": round(seconds, 1),
        "moving_s": round(run.moving.total_seconds(), 1) if run.moving else None,
        "distance_km": round(run.distance_km, 3),
        "pace_s_per_km": round(seconds / run.distance_km, 1) if run.distance_km else None,
        "sport": run.sport,
        "source": run.source,
    }


def cmd_run_add(ctx: Context, args: argparse.Namespace) -> None:
    saved = ctx.journal().add_run(at_arg(ctx, args), parse_duration(args.duration), args.distance_km)
    run, zone = saved.run, ctx.zone()
    after = ctx.settings().soreness_after_run_hours
    asked = run.end + timedelta(hours=after)
    # the hint fits the past: a run logged long after it ended is not asked about "in 2 h"
    hint = f"You'll be asked in {after:g} h." if asked > ctx.clock.now() else "Rate it: posture-agent soreness --help"

    def text() -> list[str]:
        return [
            f"Run saved ({run.id[:8]}): {run.distance_km:g} km in {format_duration(run.duration)}, "
            f"{run.start.astimezone(zone):%a %d %b %H:%M}. How's your back? {hint}"
        ]

    if saved.warning:
        print(saved.warning, file=sys.stderr)
    ctx.emit({**run_json(run, zone), "warning": saved.warning}, text)


def cmd_run_list(ctx: Context, args: argparse.Namespace) -> None:
    runs, zone = ctx.journal().runs(), ctx.zone()

    def text() -> list[str]:
        if not runs:
            return ["No runs yet: posture-agent run add --distance-km 10 --duration 55:00"]
        lines = [f"{'id':<9}{'start':<18}{'km':>7}{'time':>10}{'pace/km':>9}  source"]
        for run in runs:
            pace = format_duration(run.duration / run.distance_km) if run.distance_km else "-"
            lines.append(
                f"{run.id[:8]:<9}{run.start.astimezone(zone):%Y-%m-%d %H:%M}  {run.distance_km:>6.2f}"
                f"{format_duration(run.duration):>10}{pace:>9}  {run.source}"
            )
        return lines

    ctx.emit({"runs": [run_json(x, zone) for x in runs]}, text)


def cmd_run_delete(ctx: Context, args: argparse.Namespace) -> None:
    taken = ctx.journal().delete_run(args.id)
    run, zone = taken.records[0], ctx.zone()
    ctx.emit(
        {"deleted": run_json(run, zone)},
        lambda: f"Deleted run {run.id[:8]}: {run.distance_km:g} km in {format_duration(run.duration)}, "
                f"{spoken(run.start, zone, ctx.clock.now())}.",
    )


def cmd_run_edit(ctx: Context, args: argparse.Namespace) -> None:
    duration = parse_duration(args.duration) if args.duration is not None else None
    old, saved = ctx.journal().edit_run(args.id, args.distance_km, duration, at_arg(ctx, args))
    run, zone, now = saved.run, ctx.zone(), ctx.clock.now()

    def text() -> list[str]:
        return [
            f"Run {run.id[:8]} changed: {run.distance_km:g} km in "
            f"{format_duration(run.duration)}, {spoken(run.start, zone, now)} "
            f"(was {old.distance_km:g} km in {format_duration(old.duration)}, {spoken(old.start, zone, now)})."
        ]

    if saved.warning:
        print(saved.warning, file=sys.stderr)
    ctx.emit({**run_json(run, zone), "replaces": old.id, "warning": saved.warning}, text)


def advice_json(advice: Any, zone: tzinfo) -> dict[str, Any]:
    from posture_agent.domain import advice as rules

    p = advice.si_protocol
    return {
        "at": iso(advice.now),
        "rest_today": advice.rest_on(advice.now.astimezone(zone).date()),
        "rest_days": [d.isoformat() for d in advice.rest_days],
        "pelvic_tilts_until": advice.pelvic_tilts_until.isoformat() if advice.pelvic_tilts_until else None,
        "running_ok": advice.running_ok,
        "si_protocol": None if p is None else {
            "started": iso(p.started),
            "ends": iso(p.ends),
            "ends_local": local(p.ends, zone),
            "day": p.day,
            "of_days": p.days,
            "running_again": p.running_again.isoformat() if p.running_again else None,
            "ice_times": [t.strftime("%H:%M") for t in p.ice_times],
            "ice_minutes": "15-20",
        },
        "messages": rules.messages(advice, zone),
        "not_medical_advice": rules.NOT_MEDICAL_ADVICE,
    }


def cmd_soreness(ctx: Context, args: argparse.Namespace) -> None:
    values = {region: getattr(args, region) for region in r.REGIONS}
    form = frozenset(f.lower().replace("-", "_") for f in args.form)
    report, advice = ctx.journal().record_soreness(values, at_arg(ctx, args), args.run, form, args.si_pain)
    zone = ctx.zone()
    data = {
        "id": report.id, "at": iso(report.at), "run_id": report.run_id,
        **{k: report.region(k) for k in r.REGIONS},
        "form": sorted(report.form), "si_pain": report.si_pain_reported,
        "advice": advice_json(advice, zone),
    }
    linked = f" (run {report.run_id[:8]})" if report.run_id else ""
    ctx.emit(data, lambda: [f"Soreness saved{linked}.", *data["advice"]["messages"]])


def cmd_advice(ctx: Context, args: argparse.Namespace) -> None:
    journal, zone = ctx.journal(), ctx.zone()
    if args.end_protocol:
        journal.end_protocol(at_arg(ctx, args))
    advice = journal.advice(at_arg(ctx, args) if not args.end_protocol else None)
    data = advice_json(advice, zone)
    ctx.emit(data, lambda: data["messages"])
