"""attribution engine: identity facts, checkout reaches, journeys, fingerprints, lookback

Revision ID: 0005_attribution
Revises: 0004_platform_connections
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = "0005_attribution"
down_revision = "0004_platform_connections"
branch_labels = None
depends_on = None


def _touch_columns(prefix: str) -> list[sa.Column]:
    return [
        sa.Column(f"{prefix}_source", sa.String(length=200), nullable=True),
        sa.Column(f"{prefix}_channel", sa.String(length=40), nullable=True),
        sa.Column(f"{prefix}_medium", sa.String(length=200), nullable=True),
        sa.Column(f"{prefix}_campaign", sa.String(length=200), nullable=True),
        sa.Column(f"{prefix}_term", sa.String(length=200), nullable=True),
        sa.Column(f"{prefix}_content", sa.String(length=200), nullable=True),
        sa.Column(f"{prefix}_referrer_host", sa.String(length=255), nullable=True),
        sa.Column(f"{prefix}_landing_page", sa.Text(), nullable=True),
        sa.Column(f"{prefix}_click_id", sa.String(length=20), nullable=True),
        sa.Column(f"{prefix}_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_sessions_user_fingerprint", ["user_id", "fingerprint", "started_at"], unique=False)

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("match_confidence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rules_version", sa.Integer(), nullable=True))
        batch_op.create_index("ix_purchases_user_recipient_email", ["user_id", "recipient_email"], unique=False)
        batch_op.create_index("ix_purchases_user_visitor_key", ["user_id", "visitor_key"], unique=False)
        batch_op.create_index("ix_purchases_visitor_id", ["visitor_id"], unique=False)
        batch_op.create_index("ix_purchases_rules_version", ["rules_version"], unique=False)

    op.create_table(
        "purchase_touches",
        sa.Column("purchase_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("visitor_id", Id, nullable=False),
        *_touch_columns("touch"),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_purchase_touches_purchase_id_purchases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_purchase_touches_visitor_id_visitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("purchase_id", "position", name=op.f("pk_purchase_touches")),
    )
    with op.batch_alter_table("purchase_touches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_touches_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "visitor_emails",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("visitor_id", Id, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_visitor_emails_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_visitor_emails_visitor_id_visitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_emails")),
        sa.UniqueConstraint("visitor_id", "email", "claimed_at", name=op.f("uq_visitor_emails_visitor_id")),
    )
    with op.batch_alter_table("visitor_emails", schema=None) as batch_op:
        batch_op.create_index("ix_visitor_emails_user_email", ["user_id", "email"], unique=False)

    op.create_table(
        "visitor_handoffs",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("from_visitor_id", Id, nullable=False),
        sa.Column("to_visitor_id", Id, nullable=False),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_visitor_handoffs_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_visitor_id"],
            ["visitors.id"],
            name=op.f("fk_visitor_handoffs_from_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_visitor_id"],
            ["visitors.id"],
            name=op.f("fk_visitor_handoffs_to_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_handoffs")),
        sa.UniqueConstraint(
            "from_visitor_id", "to_visitor_id", "handed_at", name=op.f("uq_visitor_handoffs_from_visitor_id")
        ),
    )
    with op.batch_alter_table("visitor_handoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visitor_handoffs_to_visitor_id"), ["to_visitor_id"], unique=False)

    op.create_table(
        "checkout_reaches",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("visitor_id", Id, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_checkout_reaches_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_checkout_reaches_visitor_id_visitors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_reaches")),
    )
    with op.batch_alter_table("checkout_reaches", schema=None) as batch_op:
        batch_op.create_index("ix_checkout_reaches_user_reached", ["user_id", "reached_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkout_reaches_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "attribution_settings",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("lookback_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_attribution_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_attribution_settings")),
    )
    op.create_table(
        "fingerprint_salts",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_fingerprint_salts")),
    )


def downgrade() -> None:
    op.drop_table("fingerprint_salts")
    op.drop_table("attribution_settings")
    op.drop_table("checkout_reaches")
    op.drop_table("visitor_handoffs")
    op.drop_table("visitor_emails")
    op.drop_table("purchase_touches")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_rules_version")
        batch_op.drop_index("ix_purchases_visitor_id")
        batch_op.drop_index("ix_purchases_user_visitor_key")
        batch_op.drop_index("ix_purchases_user_recipient_email")
        batch_op.drop_column("rules_version")
        batch_op.drop_column("match_confidence")
        batch_op.drop_column("recipient_email")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_user_fingerprint")
        batch_op.drop_column("fingerprint")
