"""Reminders before sessions (issue 17): each person's choice of when
(`user_account.reminder_minutes`), and the reminders sent (`session_reminder`).

Revision ID: 0022_reminders
Revises: 0021_availability
Create Date: 2026-12-07 21:55:47.196700

"""
import sqlalchemy as sa
from alembic import op

import models.types


# revision identifiers, used by Alembic.
revision = '0022_reminders'
down_revision = '0021_availability'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('minutes_before', sa.Integer(), nullable=False),
    sa.Column('session_start_utc', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_session_reminder_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_session_reminder_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_reminder')),
    sa.UniqueConstraint('occurrence_id', 'user_id', 'minutes_before', 'session_start_utc', name=op.f('uq_session_reminder_once'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_minutes', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('reminder_minutes')

    op.drop_table('session_reminder')
