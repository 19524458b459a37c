"""Resumable uploads in S3: a PATCH claims its upload's row instead of the site's write lock

Revision ID: c3e8a5d1f207
Revises: a7e3c1d9f217
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e8a5d1f207'
down_revision = 'a7e3c1d9f217'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('tail_claim', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_column('tail_claim')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claims')
