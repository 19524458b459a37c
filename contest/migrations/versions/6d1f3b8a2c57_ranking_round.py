"""Ranking rounds: a round method `ranking`, its `rank_top`, and each judge's latest order

Revision ID: 6d1f3b8a2c57
Revises: a1c7e3f5b902
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6d1f3b8a2c57'
down_revision = 'a1c7e3f5b902'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'judge_ranking',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('judge_id', sa.Integer(), nullable=False),
        sa.Column('entry_ids', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['judge_id'], ['user.id'],
                                name=op.f('fk_judge_ranking_judge_id_user')),
        sa.ForeignKeyConstraint(['round_id'], ['round.id'],
                                name=op.f('fk_judge_ranking_round_id_round'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_judge_ranking')),
        sa.UniqueConstraint('round_id', 'judge_id', name=op.f('uq_judge_ranking_round_id_judge_id')),
    )
    # Autogenerate does not see CHECK constraints: `ranking` is a new method.
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rank_top', sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f('ck_round_method'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_round_method'), "method IN ('screening', 'scoring', 'ranking')"
        )
        batch_op.create_check_constraint(
            op.f('ck_round_rank_top'), "rank_top IS NULL OR rank_top > 0"
        )


def downgrade():
    op.execute("UPDATE round SET method = 'scoring' WHERE method = 'ranking'")
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_round_rank_top'), type_='check')
        batch_op.drop_constraint(op.f('ck_round_method'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_round_method'), "method IN ('screening', 'scoring')"
        )
        batch_op.drop_column('rank_top')
    op.drop_table('judge_ranking')
