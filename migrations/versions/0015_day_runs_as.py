"""A day may run another day's timetable (a make-up day): closure.runs_as.

Revision ID: 0015_day_runs_as
Revises: 0014_series_term
Create Date: 2026-12-07 14:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_day_runs_as'
down_revision = '0014_series_term'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('closure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runs_as', sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            'runs_another_day', 'runs_as IS NULL OR (last_day = first_day AND runs_as <> first_day)'
        )


def downgrade():
    with op.batch_alter_table('closure', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_closure_runs_another_day'), type_='check')
        batch_op.drop_column('runs_as')
