"""platform connections: chosen account, hooks, sync progress, raw webhook deliveries

Revision ID: 0004_platform_connections
Revises: 0003_billing
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0004_platform_connections"
down_revision = "0003_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_hint", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("referrer_hint", sa.Text(), nullable=True))

    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        # One connection may own several hooks (one per event), so the single id becomes a list.
        batch_op.drop_column("webhook_id")
        batch_op.add_column(sa.Column("external_account_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("external_account_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("webhook_ids", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sync_pages_done", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("sync_purchases_found", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("sync_total", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sync_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_platform_integrations_status", ["status"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("integration_id", Id, nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["platform_integrations.id"],
            name=op.f("fk_webhook_deliveries_integration_id_platform_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("integration_id", "event_id", name=op.f("uq_webhook_deliveries_integration_id")),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.drop_index("ix_platform_integrations_status")
        batch_op.drop_column("sync_started_at")
        batch_op.drop_column("sync_total")
        batch_op.drop_column("sync_purchases_found")
        batch_op.drop_column("sync_pages_done")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("webhook_ids")
        batch_op.drop_column("external_account_name")
        batch_op.drop_column("external_account_id")
        batch_op.add_column(sa.Column("webhook_id", sa.String(length=255), nullable=True))
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("referrer_hint")
        batch_op.drop_column("source_hint")
