"""report speed: per-day visitor counts and the indexes the report queries use

Revision ID: 0002_report_speed
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from adapters.persistence.visitor_counts import rebuild_visitor_counts

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0002_report_speed"
down_revision = "0001"
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
    # Sessions stored before this revision are counted once, from history, by the same rule as new ones.
    rebuild_visitor_counts(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_model_source")
    op.drop_table("visitor_counts")
