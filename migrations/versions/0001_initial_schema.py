"""Initial schema: accounts, rooms, subjects, course groups, series, occurrences, date overrides.

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-23 19:45:35.357590

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('room',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('capacity IS NULL OR capacity > 0', name=op.f('ck_room_capacity_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room')),
    sa.UniqueConstraint('name', name=op.f('uq_room_name'))
    )
    op.create_table('subject',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject')),
    sa.UniqueConstraint('name', name=op.f('uq_subject_name'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.Enum('admin', 'coordinator', 'mentor', 'student', name='role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('course_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('default_room_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['default_room_id'], ['room.id'], name=op.f('fk_course_group_default_room_id_room')),
    sa.ForeignKeyConstraint(['mentor_id'], ['user_account.id'], name=op.f('fk_course_group_mentor_id_user_account')),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_course_group_subject_id_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_group')),
    sa.UniqueConstraint('name', name=op.f('uq_course_group_name'))
    )
    with op.batch_alter_table('course_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_group_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_group_subject_id'), ['subject_id'], unique=False)

    op.create_table('enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_enrolment_group_id_course_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['user_account.id'], name=op.f('fk_enrolment_student_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment')),
    sa.UniqueConstraint('group_id', 'student_id', name=op.f('uq_enrolment_group_id_student_id'))
    )
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_student_id'), ['student_id'], unique=False)

    op.create_table('series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('weekday_mask', sa.Integer(), nullable=False),
    sa.Column('every_weeks', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('mode', sa.Enum('in_person', 'online', name='occurrence_mode', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('first_date', sa.Date(), nullable=False),
    sa.Column('last_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_series_end_after_start')),
    sa.CheckConstraint('every_weeks >= 1', name=op.f('ck_series_every_weeks_positive')),
    sa.CheckConstraint('last_date IS NULL OR last_date >= first_date', name=op.f('ck_series_last_after_first')),
    sa.CheckConstraint('weekday_mask BETWEEN 1 AND 127', name=op.f('ck_series_weekday_mask_range')),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_series_group_id_course_group')),
    sa.ForeignKeyConstraint(['room_id'], ['room.id'], name=op.f('fk_series_room_id_room')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series'))
    )
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_series_group_id'), ['group_id'], unique=False)

    op.create_table('date_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('original_date', sa.Date(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('new_date', sa.Date(), nullable=True),
    sa.Column('start_time', sa.Time(), nullable=True),
    sa.Column('end_time', sa.Time(), nullable=True),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cancelled OR new_date IS NOT NULL OR start_time IS NOT NULL OR end_time IS NOT NULL OR room_id IS NOT NULL', name=op.f('ck_date_override_cancels_or_overrides')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_date_override_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['room_id'], ['room.id'], name=op.f('fk_date_override_room_id_room')),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_date_override_series_id_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_date_override')),
    sa.UniqueConstraint('series_id', 'original_date', name=op.f('uq_date_override_series_id_original_date'))
    )
    op.create_table('occurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('original_date', sa.Date(), nullable=True),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('mode', sa.Enum('in_person', 'online', name='occurrence_mode', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', 'completed', name='occurrence_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('edited_by_hand', sa.Boolean(), nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(series_id IS NULL AND original_date IS NULL) OR (series_id IS NOT NULL AND original_date IS NOT NULL)', name=op.f('ck_occurrence_series_has_original_date')),
    sa.CheckConstraint('end_utc > start_utc', name=op.f('ck_occurrence_end_after_start')),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_occurrence_group_id_course_group')),
    sa.ForeignKeyConstraint(['room_id'], ['room.id'], name=op.f('fk_occurrence_room_id_room')),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_occurrence_series_id_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_occurrence')),
    sa.UniqueConstraint('series_id', 'original_date', name=op.f('uq_occurrence_series_id_original_date'))
    )
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrence_group_id'), ['group_id'], unique=False)
        batch_op.create_index('ix_occurrence_room_start', ['room_id', 'start_utc'], unique=False)
        batch_op.create_index('ix_occurrence_start_end', ['start_utc', 'end_utc'], unique=False)



def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_start_end')
        batch_op.drop_index('ix_occurrence_room_start')
        batch_op.drop_index(batch_op.f('ix_occurrence_group_id'))

    op.drop_table('occurrence')
    op.drop_table('date_override')
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_series_group_id'))

    op.drop_table('series')
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_student_id'))

    op.drop_table('enrolment')
    with op.batch_alter_table('course_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_group_subject_id'))
        batch_op.drop_index(batch_op.f('ix_course_group_mentor_id'))

    op.drop_table('course_group')
    op.drop_table('user_account')
    op.drop_table('subject')
    op.drop_table('room')
