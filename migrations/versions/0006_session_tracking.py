"""Session tracking: completion records on sessions, typed notes, attachments, and a
history of events.

Revision ID: 0006_session_tracking
Revises: 0005_occurrence_span_index
Create Date: 2026-11-26 07:00:20.838142

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_session_tracking'
down_revision = '0005_occurrence_span_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_attachment_size_not_negative')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_attachment_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['user_account.id'], name=op.f('fk_attachment_uploader_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_attachment_stored_name'))
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_occurrence_id'), ['occurrence_id'], unique=False)

    op.create_table('session_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_session_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_session_event_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_event'))
    )
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_session_event_occurrence_created', ['occurrence_id', 'created_at'], unique=False)

    op.create_table('session_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('general', 'follow_up', 'issue', 'achievement', name='note_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(trim(body)) > 0', name=op.f('ck_session_note_body_not_blank')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_session_note_author_id_user_account')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_session_note_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_note'))
    )
    with op.batch_alter_table('session_note', schema=None) as batch_op:
        batch_op.create_index('ix_session_note_occurrence_created', ['occurrence_id', 'created_at'], unique=False)

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actual_start_utc', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('actual_end_utc', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('completion_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('completion_notes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('completed_by_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_occurrence_completion_code'), ['completion_code'])
        batch_op.create_foreign_key(batch_op.f('fk_occurrence_completed_by_id_user_account'), 'user_account', ['completed_by_id'], ['id'])
        batch_op.create_check_constraint(
            'actual_end_after_start',
            'actual_end_utc IS NULL OR actual_start_utc IS NULL OR actual_end_utc > actual_start_utc',
        )


def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint('actual_end_after_start', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_occurrence_completed_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_occurrence_completion_code'), type_='unique')
        batch_op.drop_column('completed_by_id')
        batch_op.drop_column('completed_at')
        batch_op.drop_column('completion_notes')
        batch_op.drop_column('completion_code')
        batch_op.drop_column('actual_end_utc')
        batch_op.drop_column('actual_start_utc')

    with op.batch_alter_table('session_note', schema=None) as batch_op:
        batch_op.drop_index('ix_session_note_occurrence_created')

    op.drop_table('session_note')
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        batch_op.drop_index('ix_session_event_occurrence_created')
        batch_op.drop_index(batch_op.f('ix_session_event_created_at'))

    op.drop_table('session_event')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_occurrence_id'))

    op.drop_table('attachment')