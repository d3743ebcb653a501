"""The SQLite tables. Every record row carries a UUID, its creation time, the device and the source
(PRODUCT.md §5) so that histories from two computers can later be merged without duplicates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class Base(DeclarativeBase):
    pass


class RecordMixin:
    """The columns every user record has."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    device: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))


class Meta(Base):
    """Key/value facts about the database itself (creation time, device id)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CheckInRow(RecordMixin, Base):
    __tablename__ = "checkins"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    context: Mapped[str] = mapped_column(String(8))
    posture: Mapped[str] = mapped_column(String(10))
    prompted: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        CheckConstraint("posture IN ('upright','slouched','standing','skipped','missed')"),
        CheckConstraint("context IN ('desk','car','sofa')"),
    )


class DrillRow(RecordMixin, Base):
    __tablename__ = "drill_completions"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    drill: Mapped[str] = mapped_column(String(64))


class CircuitRow(RecordMixin, Base):
    __tablename__ = "circuits"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    rounds: Mapped[int] = mapped_column(Integer)


class RunRow(RecordMixin, Base):
    __tablename__ = "runs"
    start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    moving_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_km: Mapped[float] = mapped_column(Float)
    sport: Mapped[str] = mapped_column(String(32), default="running")
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (
        CheckConstraint("duration_s > 0"),
        CheckConstraint("distance_km >= 0"),
    )


class SorenessRow(RecordMixin, Base):
    __tablename__ = "soreness_reports"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    upper_back: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mid_back: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lower_back: Mapped[int | None] = mapped_column(Integer, nullable=True)
    si_joint: Mapped[int | None] = mapped_column(Integer, nullable=True)
    si_pain_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    form: Mapped[str] = mapped_column(String(128), default="")
    run_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    __table_args__ = tuple(
        CheckConstraint(f"{r} IS NULL OR ({r} BETWEEN 0 AND 10)")
        for r in ("upper_back", "mid_back", "lower_back", "si_joint")
    )


class ProtocolEndRow(RecordMixin, Base):
    """The user ended the SI protocol early."""

    __tablename__ = "protocol_ends"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PromptRow(RecordMixin, Base):
    """A prompt the agent showed: when it was due, when shown, and how it ended."""

    __tablename__ = "prompts"
    kind: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    context: Mapped[str | None] = mapped_column(String(8), nullable=True)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(10), nullable=True)
    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('answered','skipped','missed')"),
        UniqueConstraint("kind", "due", name="uq_prompt_kind_due"),
    )


class ImportFileRow(Base):
    """A file the folder watch has seen, by path, size and modification time, with its outcome, so
    that a rescan reads only new or changed files. Machine state, not a user record."""

    __tablename__ = "import_files"
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())


def utcnow() -> datetime:
    return datetime.now(UTC)
