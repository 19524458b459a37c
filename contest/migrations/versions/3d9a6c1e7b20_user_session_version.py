"""A session version per user, so signing out, disabling and a new password end every session

Revision ID: 3d9a6c1e7b20
Revises: 5b0c4e2a9d17
Create Date: 2026-11-27 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3d9a6c1e7b20'
down_revision = '5b0c4e2a9d17'
branch_labels = None
depends_on = None


def upgrade():
    # Existing users start at 0; sessions opened before this carry no version and end once.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
