"""API tokens may expire (a date chosen when made) and may be read-only (GET and HEAD only).

Revision ID: 0010_api_token_expiry_read_only
Revises: 0009_sessions_past_midnight
Create Date: 2026-12-07 01:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_api_token_expiry_read_only'
down_revision = '0009_sessions_past_midnight'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        # Existing tokens never expire and may write, as before.
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('read_only', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('read_only')
        batch_op.drop_column('expires_at')
