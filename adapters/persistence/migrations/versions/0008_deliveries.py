"""deliveries: webhook processing attempts and dead letters; resumable sync checkpoints

Revision ID: 0008_deliveries
Revises: 0007_onboarding_connection
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_deliveries"
down_revision = "0007_onboarding_connection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_webhook_deliveries_unfinished", ["processed_at", "integration_id"], unique=False)
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_cursor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sync_heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.drop_column("sync_heartbeat_at")
        batch_op.drop_column("sync_cursor")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_unfinished")
        batch_op.drop_column("failed_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("attempts")
