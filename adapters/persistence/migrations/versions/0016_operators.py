"""operators: the accounts an operator granted the console to, from the command line

Revision ID: 0016_operators
Revises: 0015_source_rules
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_operators"
down_revision = "0015_source_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("operator_since")
