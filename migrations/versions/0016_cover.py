"""Cover for absent mentors: their absences, and a substitute per session (an exception's
mentor for a series date, the session's cover mentor).

Revision ID: 0016_cover
Revises: 0015_day_runs_as
Create Date: 2026-12-07 13:28:08.221585

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016_cover'
down_revision = '0015_day_runs_as'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mentor_absence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('all_day', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'declined', name='absence_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_utc > start_utc', name=op.f('ck_mentor_absence_ends_after_start')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_mentor_absence_decided_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mentor_id'], ['user_account.id'], name=op.f('fk_mentor_absence_mentor_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['user_account.id'], name=op.f('fk_mentor_absence_reported_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_absence'))
    )
    with op.batch_alter_table('mentor_absence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_absence_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index('ix_mentor_absence_span', ['start_utc', 'end_utc'], unique=False)

    with op.batch_alter_table('date_override', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mentor_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_date_override_mentor_id_user_account'), 'user_account', ['mentor_id'], ['id'])
        # An exception may now only name a substitute (cover).
        batch_op.drop_constraint(batch_op.f('ck_date_override_cancels_or_overrides'), type_='check')
        batch_op.create_check_constraint(
            'cancels_or_overrides',
            'cancelled OR new_date IS NOT NULL OR start_time IS NOT NULL OR end_time IS NOT NULL'
            ' OR room_id IS NOT NULL OR mentor_id IS NOT NULL',
        )

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_mentor_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_occurrence_cover_mentor_id'), ['cover_mentor_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_occurrence_cover_mentor_id_user_account'), 'user_account', ['cover_mentor_id'], ['id'])



def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_occurrence_cover_mentor_id_user_account'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_occurrence_cover_mentor_id'))
        batch_op.drop_column('cover_mentor_id')

    op.execute('DELETE FROM date_override WHERE mentor_id IS NOT NULL AND NOT (cancelled'
               ' OR new_date IS NOT NULL OR start_time IS NOT NULL OR end_time IS NOT NULL'
               ' OR room_id IS NOT NULL)')
    with op.batch_alter_table('date_override', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_date_override_cancels_or_overrides'), type_='check')
        batch_op.create_check_constraint(
            'cancels_or_overrides',
            'cancelled OR new_date IS NOT NULL OR start_time IS NOT NULL OR end_time IS NOT NULL'
            ' OR room_id IS NOT NULL',
        )
        batch_op.drop_constraint(batch_op.f('fk_date_override_mentor_id_user_account'), type_='foreignkey')
        batch_op.drop_column('mentor_id')

    with op.batch_alter_table('mentor_absence', schema=None) as batch_op:
        batch_op.drop_index('ix_mentor_absence_span')
        batch_op.drop_index(batch_op.f('ix_mentor_absence_mentor_id'))

    op.drop_table('mentor_absence')
