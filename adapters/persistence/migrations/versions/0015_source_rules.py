"""source rules: a creator's own names for sources, applied when reports are read

Revision ID: 0015_source_rules
Revises: 0014_sync_health
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0015_source_rules"
down_revision = "0014_sync_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_rules",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("match", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_source_rules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "match", name=op.f("pk_source_rules")),
    )


def downgrade() -> None:
    op.drop_table("source_rules")
