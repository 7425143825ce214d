"""Sessions past midnight: a series or a request may end earlier on the clock than it starts
(23:30-00:30 ends the next day), so their check says only that the times differ.

Revision ID: 0009_sessions_past_midnight
Revises: 0008_partial_approvals
Create Date: 2026-12-06 21:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_sessions_past_midnight'
down_revision = '0008_partial_approvals'
branch_labels = None
depends_on = None

TABLES = ('series', 'session_request')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_end_after_start'), type_='check')
            batch_op.create_check_constraint(
                op.f(f'ck_{table}_times_differ'), 'end_time <> start_time'
            )


def downgrade():
    # A series or request past midnight cannot be written as an end after its start: say so
    # rather than delete a school's sessions.
    bind = op.get_bind()
    for table in TABLES:
        count = bind.execute(
            sa.text(f'SELECT count(*) FROM {table} WHERE end_time < start_time')  # noqa: S608
        ).scalar()
        if count:
            raise RuntimeError(
                f'{count} row(s) of {table} end past midnight; change or remove them first.'
            )
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_times_differ'), type_='check')
            batch_op.create_check_constraint(
                op.f(f'ck_{table}_end_after_start'), 'end_time > start_time'
            )
