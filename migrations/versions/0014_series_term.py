"""A series may run for a term: its dates follow the term's.

Revision ID: 0014_series_term
Revises: 0013_school_year
Create Date: 2026-12-07 13:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_series_term'
down_revision = '0013_school_year'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('term_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_series_term_id'), ['term_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_series_term_id_term'), 'term', ['term_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_series_term_id_term'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_series_term_id'))
        batch_op.drop_column('term_id')
