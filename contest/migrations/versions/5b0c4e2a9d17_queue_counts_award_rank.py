"""Stored queue counts for the judges' dispatch, the rank an award was given at, covering indexes for the results

Revision ID: 5b0c4e2a9d17
Revises: ee2f21169608
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b0c4e2a9d17'
down_revision = 'ee2f21169608'
branch_labels = None
depends_on = None

# The same rule as contest.services.queue_counts.queue_place (kept here so the migration never imports the
# app): the entry's counted scores in its contest's open round, or NULL when that round does
# not hold it. Portable SQL: SQLite and PostgreSQL.
BACKFILL = """
UPDATE entry SET queue_scores = CASE
    WHEN entry.status NOT IN ('rejected') AND EXISTS (
        SELECT 1 FROM round
        WHERE round.contest_id = entry.contest_id AND round.status = 'open'
          AND (round.takes_all_entries = :yes OR EXISTS (
              SELECT 1 FROM round_entry
              WHERE round_entry.round_id = round.id AND round_entry.entry_id = entry.id))
    ) THEN (
        SELECT count(*) FROM score
        WHERE score.round_id = (
                SELECT round.id FROM round
                WHERE round.contest_id = entry.contest_id AND round.status = 'open')
          AND score.entry_id = entry.id
          AND NOT EXISTS (
              SELECT 1 FROM recusal
              WHERE recusal.entry_id = score.entry_id AND recusal.judge_id = score.judge_id)
    )
    ELSE NULL
END
"""


def upgrade():
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_scores', sa.Integer(), server_default=sa.text('0'), nullable=True))
        batch_op.create_index('ix_entry_queue', ['contest_id', 'queue_scores', 'id'], unique=False)
        batch_op.create_index('ix_entry_contest_category_status', ['contest_id', 'category_id', 'status'], unique=False)

    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index('ix_score_round_judge')
        batch_op.create_index('ix_score_round_entry_total', ['round_id', 'entry_id', 'judge_id', 'total'], unique=False)
        batch_op.create_index('ix_score_round_judge_total', ['round_id', 'judge_id', 'entry_id', 'total'], unique=False)

    with op.batch_alter_table('award', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rank', sa.Integer(), nullable=True))

    op.get_bind().execute(sa.text(BACKFILL).bindparams(yes=True))


def downgrade():
    with op.batch_alter_table('award', schema=None) as batch_op:
        batch_op.drop_column('rank')

    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index('ix_score_round_judge_total')
        batch_op.drop_index('ix_score_round_entry_total')
        batch_op.create_index('ix_score_round_judge', ['round_id', 'judge_id'], unique=False)

    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_contest_category_status')
        batch_op.drop_index('ix_entry_queue')
        batch_op.drop_column('queue_scores')
