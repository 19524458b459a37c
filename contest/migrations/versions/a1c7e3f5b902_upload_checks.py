"""Resumable uploads keep the verdict of the content checks run once their last byte is in

Revision ID: a1c7e3f5b902
Revises: c3e8a5d1f207
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c7e3f5b902'
down_revision = 'c3e8a5d1f207'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('check_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('check_result', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_column('check_result')
        batch_op.drop_column('check_sha256')
        batch_op.drop_column('check_state')
