"""Check-ins say who answered: the user (every check-in so far) or a camera check, and keep the
camera's two measures (how much lower the head was than calibrated, and the face's size ratio).

Revision ID: 0005
Revises: 0004
"""
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place (SQLite takes a column's default and check in ADD COLUMN): rebuilding the table
    # through batch mode would drop its unnamed posture and context checks. Existing rows are 'user'.
    op.execute("ALTER TABLE checkins ADD COLUMN answered_by VARCHAR(8) DEFAULT 'user' NOT NULL "
               "CHECK (answered_by IN ('user','camera'))")
    op.execute("ALTER TABLE checkins ADD COLUMN head_drop_cm FLOAT")
    op.execute("ALTER TABLE checkins ADD COLUMN face_size_ratio FLOAT")


def downgrade() -> None:
    for column in ("face_size_ratio", "head_drop_cm", "answered_by"):
        op.execute(f"ALTER TABLE checkins DROP COLUMN {column}")
