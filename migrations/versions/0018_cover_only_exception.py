"""A per-date exception may only name a substitute (cover for an absent mentor): its check
constraint counts the exception's mentor as a change, like a new date, time or room.

Revision ID: 0018_cover_only_exception
Revises: 0017_attendance
Create Date: 2026-12-07 15:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_cover_only_exception'
down_revision = '0017_attendance'
branch_labels = None
depends_on = None

_BEFORE = (
    'cancelled OR new_date IS NOT NULL OR start_time IS NOT NULL OR end_time IS NOT NULL'
    ' OR room_id IS NOT NULL'
)
_AFTER = _BEFORE + ' OR mentor_id IS NOT NULL'


def _constraint(condition):
    with op.batch_alter_table('date_override', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_date_override_cancels_or_overrides'), type_='check')
        batch_op.create_check_constraint(op.f('ck_date_override_cancels_or_overrides'), condition)


def upgrade():
    _constraint(_AFTER)


def downgrade():
    # A cover-only exception breaks the old rule: it goes (its session keeps its cover).
    op.execute(f'DELETE FROM date_override WHERE NOT ({_BEFORE})')
    _constraint(_BEFORE)
