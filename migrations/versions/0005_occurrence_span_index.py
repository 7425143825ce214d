"""A covering index for the overlap queries: start, end, status, room and group.

Revision ID: 0005_occurrence_span_index
Revises: 0004_session_request_link
Create Date: 2026-11-26 07:15:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_occurrence_span_index'
down_revision = '0004_session_request_link'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(
            'ix_occurrence_span', ['start_utc', 'end_utc', 'status', 'room_id', 'group_id'],
            unique=False,
        )
        batch_op.drop_index('ix_occurrence_start_end')


def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_occurrence_start_end', ['start_utc', 'end_utc'], unique=False)
        batch_op.drop_index('ix_occurrence_span')
