"""business metrics: the history of each account's subscription status, and every platform connection attempt

Revision ID: 0019_business_metrics
Revises: 0018_site_checkout_paths
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0019_business_metrics"
down_revision = "0018_site_checkout_paths"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_status_changes",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("stripe_status", sa.String(30), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_billing_status_changes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_status_changes")),
    )
    op.create_index(
        "ix_billing_status_changes_user_changed", "billing_status_changes", ["user_id", "changed_at"], unique=False
    )
    # Accounts that already have a subscription: their current status, as of when Stripe set it.
    op.execute(
        "INSERT INTO billing_status_changes (user_id, stripe_status, changed_at) "
        "SELECT user_id, stripe_status, status_as_of FROM billing_subscriptions "
        "WHERE stripe_status IS NOT NULL AND status_as_of IS NOT NULL"
    )
    op.create_table(
        "connection_attempts",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("platform", sa.String(40), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(300)),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_connection_attempts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_attempts")),
    )
    op.create_index(
        "ix_connection_attempts_user_platform",
        "connection_attempts",
        ["user_id", "platform", "attempted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_connection_attempts_user_platform", table_name="connection_attempts")
    op.drop_table("connection_attempts")
    op.drop_index("ix_billing_status_changes_user_changed", table_name="billing_status_changes")
    op.drop_table("billing_status_changes")
