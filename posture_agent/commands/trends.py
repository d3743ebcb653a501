"""`trends`: does slouching before runs go with soreness after them, over all history?

A light command: it reads the database read-only with the standard library's sqlite3
(store/reads.py), so the process never imports SQLAlchemy, the store's opening or the journal,
which cost more than the answer on ten years of history. When that path cannot answer (no database
yet, an older schema to migrate, a busy or damaged file…) the store answers as for every other
command, with the same output and the same error lines (docs/report.md).
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from typing import Any

from posture_agent.context import Context, add_json, add_source
from posture_agent.domain.exposure import RunFacts
from posture_agent.domain.sources import Agreement, agreement
from posture_agent.report.agreement import agreement_json, agreement_text
from posture_agent.report.trends import build_trends, trends_json, trends_text
from posture_agent.store import reads
from posture_agent.store.reads import NotReadable

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("trends", help="does slouching before runs go with soreness after them?")
    add_source(p)
    add_json(p)
    p.set_defaults(func=cmd_trends)


def cmd_trends(ctx: Context, args: argparse.Namespace) -> None:
    now = ctx.clock.now()
    try:
        ctx.paths.make_dirs()  # as the store's opening does: a folder that cannot be made is said the same way
        with reads.read_only(ctx.paths.db_file) as conn:
            facts = reads.run_facts(conn, now, args.source)
            camera = agreement(reads.camera_checkins(conn, now))
    except NotReadable as exc:
        log.info("trends read through the store: %s", exc)
        facts, camera = trends_from_store(ctx, now, args.source), camera_from_store(ctx, now)
    report = build_trends(facts, ctx.zone(), now)
    data = trends_json(report)
    data["camera"] = agreement_json(camera, args.source)
    ctx.emit(data, lambda: trends_text(report) + agreement_text(camera, args.source))


def trends_from_store(ctx: Context, now: datetime, source: str) -> RunFacts:
    """The trends' facts read through the store, opened as every command opens it (created,
    migrated, waited for, recovered or refused); `report --html` reads them so too."""
    from posture_agent.store import queries as q  # SQLAlchemy: only where the read-only path cannot answer

    with ctx.store().transaction() as s:
        return q.run_facts(s, now, source)


def camera_from_store(ctx: Context, now: datetime) -> Agreement:
    from posture_agent.report.camera import camera_agreement  # SQLAlchemy, as above

    return camera_agreement(ctx.store(), None, now)
