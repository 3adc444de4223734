"""purchases keep why they are unmatched (a tie at checkout, no visit in the lookback, never seen...)

Revision ID: 0011_purchase_unmatched_reason
Revises: 0010_sessions_no_fingerprint
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_purchase_unmatched_reason"
down_revision = "0010_sessions_no_fingerprint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unmatched_reason", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("unmatched_reason")
