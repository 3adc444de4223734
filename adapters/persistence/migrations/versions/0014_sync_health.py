"""sync health: a connection keeps why reading its platform fails, since when, and when the creator was told

Revision ID: 0014_sync_health
Revises: 0013_billing_notices
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_sync_health"
down_revision = "0013_billing_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure_emailed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.drop_column("failure_emailed_at")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("sync_error")
