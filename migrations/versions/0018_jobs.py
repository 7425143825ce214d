"""Background jobs: a notification's e-mail is leased while a worker sends it (status
`sending`, `email_lease_until`), and large generations from the web are kept as runs.

Revision ID: 0018_jobs
Revises: 0017_attendance
Create Date: 2026-12-07 16:45:04.980123

"""
import sqlalchemy as sa
from alembic import op

import models.types


# revision identifiers, used by Alembic.
revision = '0018_jobs'
down_revision = '0017_attendance'
branch_labels = None
depends_on = None

OLD_STATUSES = ("none", "pending", "sent", "failed")
NEW_STATUSES = ("none", "pending", "sending", "sent", "failed")


def _statuses(values):
    return "email_status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    op.create_table('generation_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('force', sa.Boolean(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='generation_run_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_generation_run_group_id_course_group'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_generation_run_requested_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generation_run'))
    )
    with op.batch_alter_table('generation_run', schema=None) as batch_op:
        batch_op.create_index('ix_generation_run_status', ['status'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_lease_until', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_notification_email_status'), type_='check')
        batch_op.create_check_constraint('email_status', _statuses(NEW_STATUSES))



def downgrade():
    # A message a worker was sending is sent again by the older code's next run.
    op.execute("UPDATE notification SET email_status = 'pending' WHERE email_status = 'sending'")
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notification_email_status'), type_='check')
        batch_op.create_check_constraint('email_status', _statuses(OLD_STATUSES))
        batch_op.drop_column('email_lease_until')

    with op.batch_alter_table('generation_run', schema=None) as batch_op:
        batch_op.drop_index('ix_generation_run_status')

    op.drop_table('generation_run')
