"""The school year: academic years and their terms, and closures (days without teaching, for
the whole school or some groups); a session cancelled by a closure names it.

Revision ID: 0013_school_year
Revises: 0012_session_clash
Create Date: 2026-12-07 10:40:03.912016

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_school_year'
down_revision = '0012_session_clash'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('academic_year',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('last_day >= first_day', name=op.f('ck_academic_year_ends_after_start')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_academic_year')),
    sa.UniqueConstraint('name', name=op.f('uq_academic_year_name'))
    )
    op.create_table('closure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('holiday', 'closed', 'staff_day', name='closure_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('whole_school', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('last_day >= first_day', name=op.f('ck_closure_ends_after_start')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_closure_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closure'))
    )
    with op.batch_alter_table('closure', schema=None) as batch_op:
        batch_op.create_index('ix_closure_days', ['first_day', 'last_day'], unique=False)

    op.create_table('term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.CheckConstraint('last_day >= first_day', name=op.f('ck_term_ends_after_start')),
    sa.ForeignKeyConstraint(['year_id'], ['academic_year.id'], name=op.f('fk_term_year_id_academic_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_term')),
    sa.UniqueConstraint('year_id', 'name', name=op.f('uq_term_year_id_name'))
    )
    with op.batch_alter_table('term', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_term_year_id'), ['year_id'], unique=False)

    op.create_table('closure_group',
    sa.Column('closure_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closure_id'], ['closure.id'], name=op.f('fk_closure_group_closure_id_closure'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['course_group.id'], name=op.f('fk_closure_group_group_id_course_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('closure_id', 'group_id', name=op.f('pk_closure_group'))
    )
    with op.batch_alter_table('closure_group', schema=None) as batch_op:
        batch_op.create_index('ix_closure_group_group_id', ['group_id'], unique=False)

    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closure_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_occurrence_closure_id'), ['closure_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_occurrence_closure_id_closure'), 'closure', ['closure_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_occurrence_closure_id_closure'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_occurrence_closure_id'))
        batch_op.drop_column('closure_id')

    with op.batch_alter_table('closure_group', schema=None) as batch_op:
        batch_op.drop_index('ix_closure_group_group_id')

    op.drop_table('closure_group')
    with op.batch_alter_table('term', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_term_year_id'))

    op.drop_table('term')
    with op.batch_alter_table('closure', schema=None) as batch_op:
        batch_op.drop_index('ix_closure_days')

    op.drop_table('closure')
    op.drop_table('academic_year')
