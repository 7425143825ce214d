"""Stored clashes: `session_clash` holds every pair of sessions in conflict (both directions),
so a page reads its sessions' clashes by key instead of finding student clashes by visiting
every student's other groups (services/timetable/clashes.py keeps it).

Filled here from what is stored, by the rules of `find_conflicts`: two non-cancelled sessions
overlapping (half-open) that share a room, the mentor, or a student of two different groups.

Revision ID: 0012_session_clash
Revises: 0011_windowed_indexes
Create Date: 2026-12-07 10:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_session_clash'
down_revision = '0011_windowed_indexes'
branch_labels = None
depends_on = None

# No session lasts longer than this (services/timetable/conflicts.py MAX_SESSION_LENGTH): the
# sessions overlapping one start within it before, one range of a (key, start_utc) index.
LONGEST_HOURS = 26

FILL = """
INSERT INTO session_clash (occurrence_id, kind, other_id)
SELECT mine.id, 'room', other.id
FROM occurrence mine
JOIN occurrence other ON other.room_id = mine.room_id AND {overlap}
WHERE mine.status <> 'cancelled'
UNION ALL
SELECT mine.id, 'mentor', other.id
FROM occurrence mine
JOIN course_group my_group ON my_group.id = mine.group_id
JOIN course_group their_group ON their_group.mentor_id = my_group.mentor_id
JOIN occurrence other ON other.group_id = their_group.id AND {overlap}
WHERE mine.status <> 'cancelled'
UNION ALL
SELECT DISTINCT mine.id, 'student', other.id
FROM occurrence mine
JOIN enrolment member ON member.group_id = mine.group_id
JOIN enrolment fellow
  ON fellow.student_id = member.student_id AND fellow.group_id <> mine.group_id
JOIN occurrence other ON other.group_id = fellow.group_id AND {overlap}
WHERE mine.status <> 'cancelled'
"""

OVERLAP = (
    "other.status <> 'cancelled' AND other.id <> mine.id"
    " AND other.start_utc < mine.end_utc AND other.start_utc > {floor}"
    " AND other.end_utc > mine.start_utc"
)


def upgrade():
    op.create_table(
        'session_clash',
        sa.Column('occurrence_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=7), nullable=False),
        sa.Column('other_id', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('room', 'mentor', 'student')", name=op.f('ck_session_clash_known_kind')
        ),
        sa.ForeignKeyConstraint(
            ['occurrence_id'], ['occurrence.id'],
            name=op.f('fk_session_clash_occurrence_id_occurrence'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['other_id'], ['occurrence.id'],
            name=op.f('fk_session_clash_other_id_occurrence'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('occurrence_id', 'kind', 'other_id', name=op.f('pk_session_clash')),
    )
    with op.batch_alter_table('session_clash', schema=None) as batch_op:
        batch_op.create_index('ix_session_clash_other_id', ['other_id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':  # naive UTC text
        floor = f"datetime(mine.start_utc, '-{LONGEST_HOURS} hours')"
    else:
        floor = f"mine.start_utc - interval '{LONGEST_HOURS} hours'"
    op.execute(FILL.format(overlap=OVERLAP.format(floor=floor)))


def downgrade():
    with op.batch_alter_table('session_clash', schema=None) as batch_op:
        batch_op.drop_index('ix_session_clash_other_id')
    op.drop_table('session_clash')
