"""Contest settings edited by admins: English texts, categories on or off, award tiers per category, the per-entrant limit and the public URL

Revision ID: c3a9e5d27f41
Revises: 3d9a6c1e7b20
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9e5d27f41'
down_revision = '3d9a6c1e7b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('description_en', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('venue_en', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('prizes_en', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('rules_en', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('max_entries_per_entrant', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('public_url', sa.String(length=300), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_contest_max_entries_positive'), 'max_entries_per_entrant >= 1'
        )

    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False))

    # No rows: a category without stored tiers gives the AWARD_TIERS setting's.
    op.create_table('award_tier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), server_default='', nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_award_tier_count_not_negative')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_award_tier_category_id_category'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_award_tier')),
    sa.UniqueConstraint('category_id', 'slug', name=op.f('uq_award_tier_category_id_slug'))
    )


def downgrade():
    op.drop_table('award_tier')

    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_column('enabled')
        batch_op.drop_column('name_en')

    with op.batch_alter_table('contest', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_contest_max_entries_positive'), type_='check')
        batch_op.drop_column('public_url')
        batch_op.drop_column('max_entries_per_entrant')
        batch_op.drop_column('rules_en')
        batch_op.drop_column('prizes_en')
        batch_op.drop_column('venue_en')
        batch_op.drop_column('description_en')
        batch_op.drop_column('title_en')
