"""Jury changes mid-round and calibration: a round's own quorum and deadline, calibration entries,
judges limited to categories, judges' private notes and flags, daily reminders, judges' e-mail

Revision ID: a7e3c1d9f217
Revises: c3e9a7d5b210
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e3c1d9f217'
down_revision = 'c3e9a7d5b210'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('near-duplicate', 'capture-time', 'low-resolution', 'no-camera-data')"
NEW_KINDS = (
    "kind IN ('near-duplicate', 'capture-time', 'low-resolution', 'no-camera-data',"
    " 'possible-ai', 'not-at-fair', 'no-consent')"
)


def upgrade():
    # Both nullable: a round without its own quorum keeps the QUORUM setting, as before.
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quorum', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deadline', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_round_quorum_positive'), 'quorum >= 1')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))

    # Autogenerate does not see CHECK constraints: judges raise three new kinds of flag.
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flagged_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_flag_flagged_by_id_user'), 'user', ['flagged_by_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.drop_constraint(op.f('ck_flag_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_flag_kind'), NEW_KINDS)

    op.create_table('calibration_entry',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_calibration_entry_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_calibration_entry_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'entry_id', name=op.f('pk_calibration_entry'))
    )
    op.create_table('judge_category',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_judge_category_category_id_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['judge_id'], ['user.id'], name=op.f('fk_judge_category_judge_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_judge_category_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'judge_id', 'category_id', name=op.f('pk_judge_category'))
    )
    op.create_table('judge_note',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_judge_note_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['judge_id'], ['user.id'], name=op.f('fk_judge_note_judge_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'judge_id', name=op.f('pk_judge_note'))
    )
    op.create_table('judge_reminder',
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['judge_id'], ['user.id'], name=op.f('fk_judge_reminder_judge_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('judge_id', 'sent_on', name=op.f('pk_judge_reminder'))
    )


def downgrade():
    op.drop_table('judge_reminder')
    op.drop_table('judge_note')
    op.drop_table('judge_category')
    op.drop_table('calibration_entry')
    op.execute("DELETE FROM flag WHERE flagged_by_id IS NOT NULL")
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_flag_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_flag_kind'), OLD_KINDS)
        batch_op.drop_constraint(op.f('fk_flag_flagged_by_id_user'), type_='foreignkey')
        batch_op.drop_column('flagged_by_id')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('email')
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_round_quorum_positive'), type_='check')
        batch_op.drop_column('deadline')
        batch_op.drop_column('quorum')
