"""The initial schema: records, prompts, meta.

Revision ID: 0001
Revises: (none)
"""
from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('checkins',
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('context', sa.String(length=8), nullable=False),
    sa.Column('posture', sa.String(length=10), nullable=False),
    sa.Column('prompted', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.CheckConstraint("context IN ('desk','car','sofa')"),
    sa.CheckConstraint("posture IN ('upright','slouched','standing','skipped','missed')"),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkins_at'), ['at'], unique=False)

    op.create_table('circuits',
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('circuits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circuits_at'), ['at'], unique=False)

    op.create_table('drill_completions',
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('drill', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('drill_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drill_completions_at'), ['at'], unique=False)

    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('prompts',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due', sa.DateTime(), nullable=False),
    sa.Column('context', sa.String(length=8), nullable=True),
    sa.Column('shown_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('answered','skipped','missed')"),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'due', name='uq_prompt_kind_due')
    )
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prompts_due'), ['due'], unique=False)

    op.create_table('protocol_ends',
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('protocol_ends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocol_ends_at'), ['at'], unique=False)

    op.create_table('runs',
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('moving_s', sa.Float(), nullable=True),
    sa.Column('distance_km', sa.Float(), nullable=False),
    sa.Column('sport', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('origin', sa.Text(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.CheckConstraint('distance_km >= 0'),
    sa.CheckConstraint('duration_s > 0'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_start'), ['start'], unique=False)

    op.create_table('soreness_reports',
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('upper_back', sa.Integer(), nullable=True),
    sa.Column('mid_back', sa.Integer(), nullable=True),
    sa.Column('lower_back', sa.Integer(), nullable=True),
    sa.Column('si_joint', sa.Integer(), nullable=True),
    sa.Column('si_pain_reported', sa.Boolean(), nullable=False),
    sa.Column('form', sa.String(length=128), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.CheckConstraint('lower_back IS NULL OR (lower_back BETWEEN 0 AND 10)'),
    sa.CheckConstraint('mid_back IS NULL OR (mid_back BETWEEN 0 AND 10)'),
    sa.CheckConstraint('si_joint IS NULL OR (si_joint BETWEEN 0 AND 10)'),
    sa.CheckConstraint('upper_back IS NULL OR (upper_back BETWEEN 0 AND 10)'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('soreness_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_soreness_reports_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_soreness_reports_run_id'), ['run_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('soreness_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_soreness_reports_run_id'))
        batch_op.drop_index(batch_op.f('ix_soreness_reports_at'))

    op.drop_table('soreness_reports')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_start'))

    op.drop_table('runs')
    with op.batch_alter_table('protocol_ends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protocol_ends_at'))

    op.drop_table('protocol_ends')
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prompts_due'))

    op.drop_table('prompts')
    op.drop_table('meta')
    with op.batch_alter_table('drill_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_completions_at'))

    op.drop_table('drill_completions')
    with op.batch_alter_table('circuits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circuits_at'))

    op.drop_table('circuits')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkins_at'))

    op.drop_table('checkins')

