"""Live updates: the event log that /events/stream reads (services/live).

Revision ID: 0019_live_events
Revises: 0018_jobs
Create Date: 2026-12-07 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_live_events'
down_revision = '0018_jobs'
branch_labels = None
depends_on = None


def upgrade():
    # AUTOINCREMENT on SQLite: a browser's Last-Event-ID must never be given again to a new
    # event once older ones are pruned (SQLite would otherwise reuse the highest free id).
    op.create_table('live_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('audience', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (audience IS NULL)', name=op.f('ck_live_event_one_recipient')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_live_event_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_event')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('live_event', schema=None) as batch_op:
        batch_op.create_index('ix_live_event_user_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('ix_live_event_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('live_event', schema=None) as batch_op:
        batch_op.drop_index('ix_live_event_created_at')
        batch_op.drop_index('ix_live_event_user_id')

    op.drop_table('live_event')
