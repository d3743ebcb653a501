"""Tombstones: records taken back (run delete, drill untick, undo) kept as rows of their own.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tombstones",
        sa.Column("record_table", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("replaced_by", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tombstones") as batch:
        batch.create_index("ix_tombstones_record_id", ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tombstones") as batch:
        batch.drop_index("ix_tombstones_record_id")
    op.drop_table("tombstones")
