"""display settings: the locale, time zone and report currency an account's pages use

Revision ID: 0012_display_settings
Revises: 0011_purchase_unmatched_reason
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_display_settings"
down_revision = "0011_purchase_unmatched_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "display_settings",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_display_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_display_settings")),
    )


def downgrade() -> None:
    op.drop_table("display_settings")
