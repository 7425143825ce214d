"""Requests approved in part, and "declined" for requests declined automatically.

A requested date left out of an approval keeps why (`requested_slot.declined_reason`). A
request declined automatically (every date taken by another approval) reads "declined"
instead of "rejected", which is the mentor's own decision: requests declined so far (their
reason starts with "Declined automatically") move to the new status.

Revision ID: 0008_partial_approvals
Revises: 0007_access_tokens
Create Date: 2026-12-06 21:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_partial_approvals'
down_revision = '0007_access_tokens'
branch_labels = None
depends_on = None

OLD_STATUSES = ('pending', 'approved', 'rejected', 'expired', 'withdrawn')
NEW_STATUSES = ('pending', 'approved', 'rejected', 'declined', 'expired', 'withdrawn')


def _statuses(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('requested_slot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declined_reason', sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            'declined_reason_not_blank',
            'declined_reason IS NULL OR length(trim(declined_reason)) > 0',
        )

    with op.batch_alter_table('session_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_session_request_request_status'), type_='check')
        batch_op.drop_constraint(op.f('ck_session_request_rejected_has_reason'), type_='check')
        batch_op.create_check_constraint('request_status', _statuses(NEW_STATUSES))
        batch_op.create_check_constraint(
            'rejected_has_reason',
            "status NOT IN ('rejected', 'declined') OR rejection_reason IS NOT NULL",
        )
    op.execute(
        "UPDATE session_request SET status = 'declined'"
        " WHERE status = 'rejected' AND rejection_reason LIKE 'Declined automatically%'"
    )


def downgrade():
    op.execute("UPDATE session_request SET status = 'rejected' WHERE status = 'declined'")
    with op.batch_alter_table('session_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_session_request_rejected_has_reason'), type_='check')
        batch_op.drop_constraint(op.f('ck_session_request_request_status'), type_='check')
        batch_op.create_check_constraint('request_status', _statuses(OLD_STATUSES))
        batch_op.create_check_constraint(
            'rejected_has_reason', "status <> 'rejected' OR rejection_reason IS NOT NULL"
        )

    with op.batch_alter_table('requested_slot', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_requested_slot_declined_reason_not_blank'), type_='check')
        batch_op.drop_column('declined_reason')
