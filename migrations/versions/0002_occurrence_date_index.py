"""Index occurrences by series date: generation loads a window of a term by it.

Revision ID: 0002_occurrence_date_index
Revises: 0001_initial
Create Date: 2026-11-26 05:55:30.428289

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002_occurrence_date_index'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_occurrence_original_date', ['original_date'], unique=False)


def downgrade():
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_original_date')
