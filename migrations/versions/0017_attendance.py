"""Attendance registers: a mark per (session, student), and the corrections made to them.

Revision ID: 0017_attendance
Revises: 0016_cover
Create Date: 2026-12-07 13:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_attendance'
down_revision = '0016_cover'
branch_labels = None
depends_on = None


def _status(name):
    return sa.Enum('present', 'late', 'absent', 'excused', name=name, native_enum=False, create_constraint=True, length=20)


def upgrade():
    op.create_table('attendance_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('status', _status('attendance_status'), nullable=False),
    sa.Column('late_minutes', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('taken_by_id', sa.Integer(), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'late' AND late_minutes IS NOT NULL AND late_minutes > 0) OR (status <> 'late' AND late_minutes IS NULL)", name=op.f('ck_attendance_mark_late_has_minutes')),
    sa.CheckConstraint("status <> 'excused' OR length(trim(reason)) > 0", name=op.f('ck_attendance_mark_excused_has_reason')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_attendance_mark_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['user_account.id'], name=op.f('fk_attendance_mark_student_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['taken_by_id'], ['user_account.id'], name=op.f('fk_attendance_mark_taken_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_attendance_mark_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_mark')),
    sa.UniqueConstraint('occurrence_id', 'student_id', name=op.f('uq_attendance_mark_occurrence_id_student_id'))
    )
    with op.batch_alter_table('attendance_mark', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_mark_student_occurrence', ['student_id', 'occurrence_id'], unique=False)

    op.create_table('attendance_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_status', _status('attendance_old_status'), nullable=False),
    sa.Column('old_late_minutes', sa.Integer(), nullable=True),
    sa.Column('old_reason', sa.String(length=200), nullable=True),
    sa.Column('new_status', _status('attendance_new_status'), nullable=False),
    sa.Column('new_late_minutes', sa.Integer(), nullable=True),
    sa.Column('new_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_attendance_change_occurrence_id_occurrence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['user_account.id'], name=op.f('fk_attendance_change_student_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], name=op.f('fk_attendance_change_changed_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_change'))
    )
    with op.batch_alter_table('attendance_change', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_change_occurrence_changed', ['occurrence_id', 'changed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('attendance_change', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_change_occurrence_changed')

    op.drop_table('attendance_change')
    with op.batch_alter_table('attendance_mark', schema=None) as batch_op:
        batch_op.drop_index('ix_attendance_mark_student_occurrence')

    op.drop_table('attendance_mark')
