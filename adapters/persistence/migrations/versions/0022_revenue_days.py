"""revenue days: revenue, purchases and students per day and key, so reports add up days, not purchase lines

Revision ID: 0022_revenue_days
Revises: 0021_beta_program

Filled from the revenue lines already stored (core/domain/revenue_days.py says what a row holds).
"""

import sqlalchemy as sa
from alembic import op

from adapters.persistence.revenue_days import rebuild_revenue_days

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0022_revenue_days"
down_revision = "0021_beta_program"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revenue_days",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("previous_day", sa.Date(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("students", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_revenue_days_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "user_id",
            "model",
            "currency",
            "dimension",
            "day",
            "source",
            "value",
            "previous_day",
            name=op.f("pk_revenue_days"),
        ),
    )
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.create_index("ix_revenue_lines_buyer", ["user_id", "buyer"], unique=False)
    rebuild_revenue_days(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_revenue_lines_buyer")
    op.drop_table("revenue_days")
