"""The entrant's form language and when a winner's e-mail went out (receipts by e-mail)

Revision ID: e5a2c8f4b913
Revises: 7c41d2e9b3a5
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a2c8f4b913'
down_revision = '7c41d2e9b3a5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('entry') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('winner_mailed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('entry') as batch_op:
        batch_op.drop_column('winner_mailed_at')
        batch_op.drop_column('language')
