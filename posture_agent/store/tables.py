"""The SQLite tables, declared with SQLAlchemy Core. Every record table carries a UUID, its creation
time, the device and the source (PRODUCT.md §5) so that histories from two computers can later be
merged without duplicates.

Core, not ORM classes, because a command such as `checkin` is a whole process: declaring mapped
classes and importing `sqlalchemy.orm` costs more than the rest of the command together (see
benchmarks/checkin_bench.py). Query functions return plain records anyway.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware, so comparisons never mix."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def record_columns() -> list[Column[Any]]:
    """The columns every user record has."""
    return [
        Column("id", String(36), primary_key=True, default=new_id),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("device", String(64), nullable=False),
        Column("source", String(16), nullable=False),
    ]


meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

checkins = Table(
    "checkins", metadata,
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("context", String(8), nullable=False),
    Column("posture", String(10), nullable=False),
    Column("prompted", Boolean, nullable=False, default=False),
    *record_columns(),
    Column("answered_by", String(8), nullable=False, default="user", server_default="user"),
    Column("head_drop_cm", Float, nullable=True),
    Column("face_size_ratio", Float, nullable=True),
    CheckConstraint("posture IN ('upright','slouched','standing','skipped','missed')"),
    CheckConstraint("context IN ('desk','car','sofa')"),
    CheckConstraint("answered_by IN ('user','camera')"),
)
"""`answered_by`: the user's own word, or a camera check (docs/camera.md), whose two measures are
kept beside it; `source` says how the record was written (prompt, tray, command line)."""

drill_completions = Table(
    "drill_completions", metadata,
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("drill", String(64), nullable=False),
    *record_columns(),
)

circuits = Table(
    "circuits", metadata,
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("rounds", Integer, nullable=False),
    *record_columns(),
)

runs = Table(
    "runs", metadata,
    Column("start", UTCDateTime(), nullable=False, index=True),
    Column("duration_s", Float, nullable=False),
    Column("moving_s", Float, nullable=True),
    Column("distance_km", Float, nullable=False),
    Column("sport", String(32), nullable=False, default="running"),
    Column("fingerprint", String(64), nullable=True, unique=True),
    Column("origin", Text, nullable=True),
    *record_columns(),
    CheckConstraint("duration_s > 0"),
    CheckConstraint("distance_km >= 0"),
)

soreness_reports = Table(
    "soreness_reports", metadata,
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("upper_back", Integer, nullable=True),
    Column("mid_back", Integer, nullable=True),
    Column("lower_back", Integer, nullable=True),
    Column("si_joint", Integer, nullable=True),
    Column("si_pain_reported", Boolean, nullable=False, default=False),
    Column("form", String(128), nullable=False, default=""),
    Column("run_id", String(36), ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True),
    *record_columns(),
    *(
        CheckConstraint(f"{r} IS NULL OR ({r} BETWEEN 0 AND 10)")
        for r in ("upper_back", "mid_back", "lower_back", "si_joint")
    ),
)

protocol_ends = Table(
    "protocol_ends", metadata,
    Column("at", UTCDateTime(), nullable=False, index=True),
    *record_columns(),
)

tombstones = Table(
    "tombstones", metadata,
    Column("record_table", String(32), nullable=False),
    Column("record_id", String(36), nullable=False, index=True),
    Column("replaced_by", String(36), nullable=True),
    *record_columns(),
)
"""A record taken back (`run delete`, `drill untick`, `undo`, or the old version of an edited run):
a record of its own, never a physical delete, so that it travels to other devices like any other
record (by its UUID) and a backup, a restore or a merge never brings the record back. Every query
reads a record table without the ids named here. `replaced_by` is the new version of an edited run
(delete + re-add, see `Journal.edit_run`): soreness reports linked to the old id follow it."""

prompts = Table(
    "prompts", metadata,
    Column("kind", String(16), nullable=False),
    Column("due", UTCDateTime(), nullable=False, index=True),
    Column("context", String(8), nullable=True),
    Column("shown_at", UTCDateTime(), nullable=True),
    Column("outcome", String(10), nullable=True),
    *record_columns(),
    CheckConstraint("outcome IS NULL OR outcome IN ('answered','skipped','missed','away')"),
    UniqueConstraint("kind", "due", name="uq_prompt_kind_due"),
)
"""A prompt the agent showed: when it was due, when shown, and how it ended; or one held back while
the user was away and never shown (outcome `away`, no `shown_at`)."""


import_files = Table(
    "import_files", metadata,
    Column("path", Text, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("scanned_at", UTCDateTime(), nullable=False),
)
"""Files the folder watch has seen, by path, size and modification time, with their outcome, so that
a rescan reads only new or changed files. Machine state, not a user record."""
