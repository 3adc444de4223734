"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

# Big integer ids on PostgreSQL; SQLite's rowid (INTEGER PRIMARY KEY) for the embedded default.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscription_status", sa.String(length=20), server_default="trialing", nullable=False),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("public_key", sa.String(length=40), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sites_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("public_key", name=op.f("uq_sites_public_key")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_user_id"), ["user_id"], unique=False)

    op.create_table(
        "platform_integrations",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("site_id", Id, nullable=True),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("encrypted_credentials", sa.LargeBinary(), nullable=True),
        sa.Column("webhook_id", sa.String(length=255), nullable=True),
        sa.Column("webhook_token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_platform_integrations_site_id_sites"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_platform_integrations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_integrations")),
    )
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_integrations_user_id"), ["user_id"], unique=False)

    op.create_table(
        "visitors",
        sa.Column("id", Id, nullable=False),
        sa.Column("site_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("visitor_key", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_touch_source", sa.String(length=200), nullable=True),
        sa.Column("first_touch_channel", sa.String(length=40), nullable=True),
        sa.Column("first_touch_medium", sa.String(length=200), nullable=True),
        sa.Column("first_touch_campaign", sa.String(length=200), nullable=True),
        sa.Column("first_touch_term", sa.String(length=200), nullable=True),
        sa.Column("first_touch_content", sa.String(length=200), nullable=True),
        sa.Column("first_touch_referrer_host", sa.String(length=255), nullable=True),
        sa.Column("first_touch_landing_page", sa.Text(), nullable=True),
        sa.Column("first_touch_click_id", sa.String(length=20), nullable=True),
        sa.Column("first_touch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_touch_source", sa.String(length=200), nullable=True),
        sa.Column("last_touch_channel", sa.String(length=40), nullable=True),
        sa.Column("last_touch_medium", sa.String(length=200), nullable=True),
        sa.Column("last_touch_campaign", sa.String(length=200), nullable=True),
        sa.Column("last_touch_term", sa.String(length=200), nullable=True),
        sa.Column("last_touch_content", sa.String(length=200), nullable=True),
        sa.Column("last_touch_referrer_host", sa.String(length=255), nullable=True),
        sa.Column("last_touch_landing_page", sa.Text(), nullable=True),
        sa.Column("last_touch_click_id", sa.String(length=20), nullable=True),
        sa.Column("last_touch_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_visitors_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_visitors_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitors")),
        sa.UniqueConstraint("site_id", "visitor_key", name=op.f("uq_visitors_site_id")),
    )
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.create_index("ix_visitors_user_email", ["user_id", "email"], unique=False)
        batch_op.create_index(
            "ix_visitors_user_first_touch", ["user_id", "first_touch_at", "first_touch_source"], unique=False
        )
        batch_op.create_index("ix_visitors_user_key", ["user_id", "visitor_key"], unique=False)

    op.create_table(
        "purchases",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("platform_purchase_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("course_name", sa.String(length=500), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visitor_key", sa.String(length=64), nullable=True),
        sa.Column("visitor_id", Id, nullable=True),
        sa.Column("attribution_status", sa.String(length=20), nullable=False),
        sa.Column("match_method", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_purchases_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_purchases_visitor_id_visitors"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("user_id", "platform", "platform_purchase_id", name=op.f("uq_purchases_user_id")),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_user_email", ["user_id", "email"], unique=False)
        batch_op.create_index("ix_purchases_user_purchased", ["user_id", "purchased_at"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("visitor_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("medium", sa.String(length=200), nullable=True),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("term", sa.String(length=200), nullable=True),
        sa.Column("content", sa.String(length=200), nullable=True),
        sa.Column("referrer_host", sa.String(length=255), nullable=True),
        sa.Column("landing_page", sa.Text(), nullable=True),
        sa.Column("click_id", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_sessions_visitor_id_visitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_user_started", ["user_id", "started_at", "source"], unique=False)
        batch_op.create_index("ix_sessions_visitor_started", ["visitor_id", "started_at"], unique=False)

    op.create_table(
        "attributions",
        sa.Column("purchase_id", Id, nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("touch_source", sa.String(length=200), nullable=True),
        sa.Column("touch_channel", sa.String(length=40), nullable=True),
        sa.Column("touch_medium", sa.String(length=200), nullable=True),
        sa.Column("touch_campaign", sa.String(length=200), nullable=True),
        sa.Column("touch_term", sa.String(length=200), nullable=True),
        sa.Column("touch_content", sa.String(length=200), nullable=True),
        sa.Column("touch_referrer_host", sa.String(length=255), nullable=True),
        sa.Column("touch_landing_page", sa.Text(), nullable=True),
        sa.Column("touch_click_id", sa.String(length=20), nullable=True),
        sa.Column("touch_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_attributions_purchase_id_purchases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("purchase_id", "model", name=op.f("pk_attributions")),
    )
    op.create_table(
        "events",
        sa.Column("id", Id, nullable=False),
        sa.Column("site_id", Id, nullable=False),
        sa.Column("visitor_id", Id, nullable=False),
        sa.Column("session_id", Id, nullable=True),
        sa.Column("client_event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_events_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_events_site_id_sites"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_events_visitor_id_visitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("site_id", "client_event_id", name=op.f("uq_events_site_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_site_occurred", ["site_id", "occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", Id, nullable=False),
        sa.Column("purchase_id", Id, nullable=False),
        sa.Column("platform_refund_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_refunds_purchase_id_purchases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("purchase_id", "platform_refund_id", name=op.f("uq_refunds_purchase_id")),
    )


def downgrade() -> None:
    op.drop_table("refunds")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_visitor_id"))
        batch_op.drop_index("ix_events_site_occurred")

    op.drop_table("events")
    op.drop_table("attributions")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_visitor_started")
        batch_op.drop_index("ix_sessions_user_started")

    op.drop_table("sessions")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_user_purchased")
        batch_op.drop_index("ix_purchases_user_email")

    op.drop_table("purchases")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_index("ix_visitors_user_key")
        batch_op.drop_index("ix_visitors_user_first_touch")
        batch_op.drop_index("ix_visitors_user_email")

    op.drop_table("visitors")
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_integrations_user_id"))

    op.drop_table("platform_integrations")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_user_id"))

    op.drop_table("sites")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
