"""A failed notification e-mail waits before its next attempt (`email_retry_at`).

Revision ID: 0020_email_retry
Revises: 0019_live_events
Create Date: 2026-12-07 21:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import models.types


# revision identifiers, used by Alembic.
revision = '0020_email_retry'
down_revision = '0019_live_events'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_retry_at', models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('email_retry_at')
