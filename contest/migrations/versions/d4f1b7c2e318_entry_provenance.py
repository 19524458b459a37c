"""Provenance: each entry's C2PA/metadata summary and the entrant's declaration; four flag kinds

Revision ID: d4f1b7c2e318
Revises: a3c9e5f1b207
Create Date: 2026-12-06 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4f1b7c2e318'
down_revision = 'a3c9e5f1b207'
branch_labels = None
depends_on = None

OLD_KINDS = (
    "kind IN ('near-duplicate', 'capture-time', 'low-resolution', 'no-camera-data',"
    " 'possible-ai', 'not-at-fair', 'no-consent')"
)
NEW_KINDS = (
    "kind IN ('near-duplicate', 'capture-time', 'low-resolution', 'no-camera-data',"
    " 'possible-ai', 'not-at-fair', 'no-consent',"
    " 'ai_declared', 'c2pa_invalid', 'provenance_unreadable', 'screenshot')"
)


def upgrade():
    # Both nullable: entries made before have no declaration and were never read for provenance.
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=True))

    # Autogenerate does not see CHECK constraints; 'provenance_unreadable' needs 21 characters.
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.alter_column(
            'kind', existing_type=sa.String(length=20), type_=sa.String(length=30)
        )
        batch_op.drop_constraint(op.f('ck_flag_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_flag_kind'), NEW_KINDS)


def downgrade():
    op.execute(
        "DELETE FROM flag WHERE kind IN"
        " ('ai_declared', 'c2pa_invalid', 'provenance_unreadable', 'screenshot')"
    )
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_flag_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_flag_kind'), OLD_KINDS)
        batch_op.alter_column(
            'kind', existing_type=sa.String(length=30), type_=sa.String(length=20)
        )

    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_column('provenance')
        batch_op.drop_column('declared_at')
