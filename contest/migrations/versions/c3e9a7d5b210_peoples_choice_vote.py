"""The people's-choice vote: vote cards (tokens), their votes, and the contest's voting window

Revision ID: c3e9a7d5b210
Revises: 4f6b2d8e1a93
Create Date: 2026-12-06 11:38:53.657621

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e9a7d5b210'
down_revision = '4f6b2d8e1a93'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'vote_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contest_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('batch', sa.String(length=24), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('voided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['contest_id'],
            ['contest.id'],
            name=op.f('fk_vote_token_contest_id_contest'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vote_token')),
        sa.UniqueConstraint('token', name=op.f('uq_vote_token_token')),
    )
    with op.batch_alter_table('vote_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_token_batch'), ['batch'], unique=False)

    op.create_table(
        'vote',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('ordinal', sa.Integer(), nullable=False),
        sa.Column('cast_at', sa.DateTime(), nullable=False),
        sa.Column('address_digest', sa.String(length=64), nullable=False),
        sa.CheckConstraint('ordinal >= 1', name=op.f('ck_vote_ordinal_positive')),
        sa.ForeignKeyConstraint(
            ['entry_id'], ['entry.id'], name=op.f('fk_vote_entry_id_entry'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['token_id'],
            ['vote_token.id'],
            name=op.f('fk_vote_token_id_vote_token'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vote')),
        sa.UniqueConstraint('token_id', 'entry_id', name=op.f('uq_vote_token_id_entry_id')),
        sa.UniqueConstraint('token_id', 'ordinal', name=op.f('uq_vote_token_id_ordinal')),
    )
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_vote_address_digest'), ['address_digest'], unique=False
        )
        batch_op.create_index(batch_op.f('ix_vote_entry_id'), ['entry_id'], unique=False)

    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voting_opens_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('voting_closes_at', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            'voting_window_order',
            'voting_opens_at IS NULL OR voting_closes_at IS NULL'
            ' OR voting_opens_at < voting_closes_at',
        )


def downgrade():
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.drop_constraint('voting_window_order', type_='check')
        batch_op.drop_column('voting_closes_at')
        batch_op.drop_column('voting_opens_at')

    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_entry_id'))
        batch_op.drop_index(batch_op.f('ix_vote_address_digest'))
    op.drop_table('vote')

    with op.batch_alter_table('vote_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_token_batch'))
    op.drop_table('vote_token')
