"""The booth's wall: a log of entries going on and off display, for every open wall to follow

Revision ID: a3c9e5f1b207
Revises: 6d1f3b8a2c57
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3c9e5f1b207'
down_revision = '6d1f3b8a2c57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'wall_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('public_id', sa.String(length=24), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.CheckConstraint("action IN ('shown', 'removed')", name=op.f('ck_wall_event_action')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_wall_event')),
    )
    with op.batch_alter_table('wall_event') as batch_op:
        batch_op.create_index(batch_op.f('ix_wall_event_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('wall_event') as batch_op:
        batch_op.drop_index(batch_op.f('ix_wall_event_at'))
    op.drop_table('wall_event')
