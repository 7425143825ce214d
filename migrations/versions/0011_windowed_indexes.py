"""Indexes for windowed reads that stay flat as the school grows (issue 14).

- `ix_occurrence_group_start (group_id, start_utc, end_utc, status)` replaces
  `ix_occurrence_group_id`: a student's or mentor's timetable reads their groups' sessions
  in a range, not every session of the range checked against their enrolments; the API's
  conflict flags check a session against its mentor's and students' other groups' sessions
  from this index alone.
- `ix_enrolment_student_group (student_id, group_id)` replaces `ix_enrolment_student_id`:
  a student's groups from the index alone.
- `ix_occurrence_span` gains `id` after `start_utc`: the API's session lists page by
  `(start_utc, id) > (:x, :y)`, one range of the index read in order; the overlap queries
  still find end, status, room and group in it.
- `ix_date_override_date_id (original_date, id)`: the API's exception list, the same way.

Revision ID: 0011_windowed_indexes
Revises: 0010_api_token_expiry_read_only
Create Date: 2026-12-07 07:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_windowed_indexes'
down_revision = '0010_api_token_expiry_read_only'
branch_labels = None
depends_on = None

SPAN_BEFORE = ['start_utc', 'end_utc', 'status', 'room_id', 'group_id']
SPAN_AFTER = ['start_utc', 'id', 'end_utc', 'status', 'room_id', 'group_id']


def upgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(
            'ix_occurrence_group_start', ['group_id', 'start_utc', 'end_utc', 'status'],
            unique=False,
        )
        batch_op.drop_index('ix_occurrence_group_id')
        batch_op.drop_index('ix_occurrence_span')
        batch_op.create_index('ix_occurrence_span', SPAN_AFTER, unique=False)
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index(
            'ix_enrolment_student_group', ['student_id', 'group_id'], unique=False
        )
        batch_op.drop_index('ix_enrolment_student_id')
    with op.batch_alter_table('date_override', schema=None) as batch_op:
        batch_op.create_index('ix_date_override_date_id', ['original_date', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('date_override', schema=None) as batch_op:
        batch_op.drop_index('ix_date_override_date_id')
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index('ix_enrolment_student_id', ['student_id'], unique=False)
        batch_op.drop_index('ix_enrolment_student_group')
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_span')
        batch_op.create_index('ix_occurrence_span', SPAN_BEFORE, unique=False)
        batch_op.create_index('ix_occurrence_group_id', ['group_id'], unique=False)
        batch_op.drop_index('ix_occurrence_group_start')
