"""Resumable uploads in an S3 multipart upload: the offset and the parts in the database

Revision ID: b7d3f1a2c845
Revises: 9e4b7a1c2d30
Create Date: 2026-12-06 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d3f1a2c845'
down_revision = '9e4b7a1c2d30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('received', sa.BigInteger(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('multipart', sa.String(length=1024), nullable=True))
    op.create_table(
        'upload_part',
        sa.Column('upload_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('etag', sa.String(length=200), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ['upload_id'],
            ['upload.id'],
            name=op.f('fk_upload_part_upload_id_upload'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('upload_id', 'number', name=op.f('pk_upload_part')),
    )


def downgrade():
    op.drop_table('upload_part')
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_column('multipart')
        batch_op.drop_column('received')
