"""Session requests and their slots, notifications, ratings, mentors' subjects, tutoring
groups, and a video room for every online session (existing ones get theirs here).

Revision ID: 0003_requests_notifications
Revises: 0002_occurrence_date_index
Create Date: 2026-11-26 06:22:04.578738

"""
import secrets
import string

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003_requests_notifications'
down_revision = '0002_occurrence_date_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mentor_subject',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mentor_id'], ['user_account.id'], name=op.f('fk_mentor_subject_mentor_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_mentor_subject_subject_id_subject'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_subject')),
    sa.UniqueConstraint('mentor_id', 'subject_id', name=op.f('uq_mentor_subject_mentor_id_subject_id'))
    )
    with op.batch_alter_table('mentor_subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_subject_mentor_id'), ['mentor_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_status', sa.Enum('none', 'pending', 'sent', 'failed', name='email_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('email_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_email_status', ['email_status'], unique=False)
        batch_op.create_index('ix_notification_user_read', ['user_id', 'read_at'], unique=False)

    op.create_table('session_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('mode', sa.Enum('in_person', 'online', name='request_mode', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('schedule_kind', sa.Enum('single', 'dates', 'weekly', name='schedule_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('weekday_mask', sa.Integer(), nullable=True),
    sa.Column('first_date', sa.Date(), nullable=True),
    sa.Column('weeks', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'expired', 'withdrawn', name='request_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('first_start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL", name=op.f('ck_session_request_rejected_has_reason')),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_session_request_end_after_start')),
    sa.CheckConstraint('rejection_reason IS NULL OR length(trim(rejection_reason)) > 0', name=op.f('ck_session_request_reason_not_blank')),
    sa.CheckConstraint('weekday_mask IS NULL OR (weekday_mask >= 1 AND weekday_mask <= 127)', name=op.f('ck_session_request_weekday_mask_range')),
    sa.CheckConstraint('weeks IS NULL OR (weeks >= 1 AND weeks <= 26)', name=op.f('ck_session_request_weeks_range')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_session_request_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_session_request_group_id_course_group')),
    sa.ForeignKeyConstraint(['mentor_id'], ['user_account.id'], name=op.f('fk_session_request_mentor_id_user_account')),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_session_request_series_id_series')),
    sa.ForeignKeyConstraint(['student_id'], ['user_account.id'], name=op.f('fk_session_request_student_id_user_account')),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.id'], name=op.f('fk_session_request_subject_id_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_request'))
    )
    with op.batch_alter_table('session_request', schema=None) as batch_op:
        batch_op.create_index('ix_session_request_mentor_status', ['mentor_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_request_student_id'), ['student_id'], unique=False)

    op.create_table('rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 1 AND score <= 5', name=op.f('ck_rating_score_range')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_rating_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['user_account.id'], name=op.f('fk_rating_student_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating')),
    sa.UniqueConstraint('occurrence_id', 'student_id', name=op.f('uq_rating_occurrence_id_student_id'))
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_occurrence_id'), ['occurrence_id'], unique=False)

    op.create_table('requested_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_utc', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_utc > start_utc', name=op.f('ck_requested_slot_end_after_start')),
    sa.ForeignKeyConstraint(['request_id'], ['session_request.id'], name=op.f('fk_requested_slot_request_id_session_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requested_slot')),
    sa.UniqueConstraint('request_id', 'start_utc', name=op.f('uq_requested_slot_request_id_start_utc'))
    )
    with op.batch_alter_table('requested_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requested_slot_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('course_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('class', 'tutoring', name='group_kind', native_enum=False, create_constraint=True, length=20), server_default='class', nullable=False))

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('video_room_id', sa.String(length=13), nullable=True))

    # Online sessions made before video rooms existed get one now, so the CHECK below holds.
    occurrence = sa.table(
        'occurrence', sa.column('id', sa.Integer), sa.column('mode', sa.String),
        sa.column('video_room_id', sa.String),
    )
    bind = op.get_bind()
    online = bind.execute(sa.select(occurrence.c.id).where(occurrence.c.mode == 'online')).scalars()
    taken = set()
    for occurrence_id in list(online):
        room_id = _new_video_room_id(taken)
        bind.execute(
            occurrence.update().where(occurrence.c.id == occurrence_id).values(video_room_id=room_id)
        )

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_occurrence_video_room_id'), ['video_room_id'])
        batch_op.create_check_constraint(
            'online_has_video_room', "mode <> 'online' OR video_room_id IS NOT NULL"
        )


def _new_video_room_id(taken: set) -> str:
    # The same format as services/timetable/video_rooms.py, which a migration must not import.
    alphabet = string.ascii_lowercase + string.digits
    while True:
        room_id = "room-" + "".join(secrets.choice(alphabet) for _ in range(8))
        if room_id not in taken:
            taken.add(room_id)
            return room_id


def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint('online_has_video_room', type_='check')
        batch_op.drop_constraint(batch_op.f('uq_occurrence_video_room_id'), type_='unique')
        batch_op.drop_column('video_room_id')

    with op.batch_alter_table('course_group', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_course_group_group_kind'), type_='check')
        batch_op.drop_column('kind')

    with op.batch_alter_table('requested_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requested_slot_request_id'))

    op.drop_table('requested_slot')
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_occurrence_id'))

    op.drop_table('rating')
    with op.batch_alter_table('session_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_request_student_id'))
        batch_op.drop_index('ix_session_request_mentor_status')

    op.drop_table('session_request')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_read')
        batch_op.drop_index('ix_notification_email_status')

    op.drop_table('notification')
    with op.batch_alter_table('mentor_subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mentor_subject_mentor_id'))

    op.drop_table('mentor_subject')