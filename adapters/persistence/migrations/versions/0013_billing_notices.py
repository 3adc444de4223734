"""billing_notices: the billing emails sent, so each goes out once

Revision ID: 0013_billing_notices
Revises: 0012_display_settings
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0013_billing_notices"
down_revision = "0012_display_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_notices",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("notice_key", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_billing_notices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_notices")),
        sa.UniqueConstraint("user_id", "kind", "notice_key", name=op.f("uq_billing_notices_user_id")),
    )


def downgrade() -> None:
    op.drop_table("billing_notices")
