"""Entries get a public id and a display state (the booth's wall and the public gallery)

Revision ID: 4f6b2d8e1a93
Revises: b7d3f1a2c845
Create Date: 2026-12-06 11:45:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4f6b2d8e1a93'
down_revision = 'b7d3f1a2c845'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('entry') as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('display', sa.String(length=10), nullable=False,
                                      server_default='pending'))
        batch_op.add_column(sa.Column('display_decided_at', sa.DateTime(), nullable=True))
    # Entries made before: each gets its own random public id.
    connection = op.get_bind()
    entry = sa.table('entry', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    for (entry_id,) in connection.execute(sa.select(entry.c.id)).all():
        connection.execute(
            entry.update().where(entry.c.id == entry_id).values(public_id=secrets.token_urlsafe(12))
        )
    with op.batch_alter_table('entry') as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=24), nullable=False)
        batch_op.create_unique_constraint('uq_entry_public_id', ['public_id'])
        batch_op.create_check_constraint('display', "display IN ('pending', 'approved', 'hidden')")


def downgrade():
    with op.batch_alter_table('entry') as batch_op:
        batch_op.drop_constraint('display', type_='check')
        batch_op.drop_constraint('uq_entry_public_id', type_='unique')
        batch_op.drop_column('display_decided_at')
        batch_op.drop_column('display')
        batch_op.drop_column('public_id')
