"""certificate type revision (issuing caches check it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 15:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('revision', sa.String(length=16), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.drop_column('revision')
