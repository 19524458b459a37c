"""Resumable (tus) uploads in flight, bound to the browser session that created them

Revision ID: 9e4b7a1c2d30
Revises: e5a2c8f4b913
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e4b7a1c2d30'
down_revision = 'e5a2c8f4b913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'upload',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('filetype', sa.String(length=100), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('length >= 0', name=op.f('ck_upload_length_not_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_upload')),
    )
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_created_at'))
        batch_op.drop_index(batch_op.f('ix_upload_owner'))
    op.drop_table('upload')
