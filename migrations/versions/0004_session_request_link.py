"""Sessions remember the approved request that created them.

Revision ID: 0004_session_request_link
Revises: 0003_requests_notifications
Create Date: 2026-11-26 06:58:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_session_request_link'
down_revision = '0003_requests_notifications'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_occurrence_request_id'), ['request_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_occurrence_request_id_session_request'), 'session_request',
            ['request_id'], ['id'], ondelete='SET NULL',
        )
    # Sessions approved before: a weekly request's series, or the one-time sessions of the
    # request's group at its requested starts.
    op.execute(
        "UPDATE occurrence SET request_id = (SELECT r.id FROM session_request r"
        " WHERE r.status = 'approved' AND r.series_id = occurrence.series_id)"
        " WHERE series_id IS NOT NULL"
    )
    op.execute(
        "UPDATE occurrence SET request_id = (SELECT r.id FROM session_request r"
        " JOIN requested_slot s ON s.request_id = r.id"
        " WHERE r.status = 'approved' AND r.series_id IS NULL"
        " AND r.group_id = occurrence.group_id AND s.start_utc = occurrence.start_utc"
        " ORDER BY r.id LIMIT 1)"
        " WHERE series_id IS NULL"
    )


def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_occurrence_request_id_session_request'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_occurrence_request_id'))
        batch_op.drop_column('request_id')
