"""collect: the inbound tracker events the request path stores, and the sites' tracking settings

Revision ID: 0009_collect
Revises: 0008_deliveries
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0009_collect"
down_revision = "0008_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("site_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("client_event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("visitor_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("referrer", sa.Text()),
        sa.Column("title", sa.String(300)),
        sa.Column("email", sa.String(254)),
        sa.Column("user_agent", sa.Text()),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("handoff_from", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(20)),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_inbound_events_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_inbound_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("site_id", "client_event_id", name=op.f("uq_inbound_events_site_id")),
    )
    op.create_index("ix_inbound_events_pending", "inbound_events", ["user_id", "processed_at", "id"])
    op.create_index("ix_inbound_events_processed_at", "inbound_events", ["processed_at"])
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respect_gpc", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("respect_gpc")
    op.drop_index("ix_inbound_events_processed_at", table_name="inbound_events")
    op.drop_index("ix_inbound_events_pending", table_name="inbound_events")
    op.drop_table("inbound_events")
