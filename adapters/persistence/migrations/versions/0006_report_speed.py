"""report speed: per-day visitor counts and the indexes the report queries use

Revision ID: 0006_report_speed
Revises: 0005_attribution
"""

import sqlalchemy as sa
from alembic import op

from adapters.persistence.revenue_lines import rebuild_revenue_lines
from adapters.persistence.visitor_counts import rebuild_visitor_counts

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0006_report_speed"
down_revision = "0005_attribution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visitor_counts",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_visitor_counts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "model", "dimension", "source", "channel", "value", "day", name=op.f("pk_visitor_counts")
        ),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index("ix_attributions_model_source", ["model", "touch_source", "purchase_id"], unique=False)
    op.create_table(
        "revenue_lines",
        sa.Column("purchase_id", Id, nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("net_amount", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=300), nullable=True),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("medium", sa.String(length=200), nullable=True),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("landing_path", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_revenue_lines_purchase_id_purchases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_revenue_lines_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("purchase_id", "model", name=op.f("pk_revenue_lines")),
    )
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.create_index("ix_revenue_lines_report", ["user_id", "model", "currency", "purchased_at"], unique=False)
        batch_op.create_index("ix_revenue_lines_source", ["user_id", "model", "source", "purchased_at"], unique=False)
    # What was stored before this revision is counted once, from history, by the same rules as what comes next.
    rebuild_visitor_counts(op.get_bind())
    rebuild_revenue_lines(op.get_bind())


def downgrade() -> None:
    op.drop_table("revenue_lines")
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_model_source")
    op.drop_table("visitor_counts")
