"""Prompts may end `away`: held back while the user was away and never shown (presence/).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _prompts(outcomes: str) -> sa.Table:
    """The prompts table as 0001 made it, with the outcome check given (SQLite rebuilds the table)."""
    return sa.Table(
        "prompts", sa.MetaData(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due", sa.DateTime(), nullable=False),
        sa.Column("context", sa.String(length=8), nullable=True),
        sa.Column("shown_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.CheckConstraint(f"outcome IS NULL OR outcome IN ({outcomes})"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "due", name="uq_prompt_kind_due"),
        sa.Index("ix_prompts_due", "due"),
    )


def upgrade() -> None:
    with op.batch_alter_table("prompts", recreate="always", copy_from=_prompts("'answered','skipped','missed','away'")):
        pass


def downgrade() -> None:
    op.execute("UPDATE prompts SET outcome = 'missed' WHERE outcome = 'away'")
    with op.batch_alter_table("prompts", recreate="always", copy_from=_prompts("'answered','skipped','missed'")):
        pass
