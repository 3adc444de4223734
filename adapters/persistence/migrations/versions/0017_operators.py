"""operators: the accounts an operator granted the console to, from the command line

Revision ID: 0017_operators
Revises: 0016_bot_visits
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_operators"
down_revision = "0016_bot_visits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("operator_since")
