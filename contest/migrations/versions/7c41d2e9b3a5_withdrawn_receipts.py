"""Withdrawn receipt codes, kept only as keyed hashes, so a withdrawn code answers 410

Revision ID: 7c41d2e9b3a5
Revises: c3a9e5d27f41
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c41d2e9b3a5'
down_revision = 'c3a9e5d27f41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'withdrawn_receipt',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_withdrawn_receipt')),
    )


def downgrade():
    op.drop_table('withdrawn_receipt')
