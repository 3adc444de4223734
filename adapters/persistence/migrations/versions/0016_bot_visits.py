"""bot visits: the bot visits dropped at the collect endpoint, counted per site and day for the creator

Revision ID: 0016_bot_visits
Revises: 0015_source_rules
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0016_bot_visits"
down_revision = "0015_source_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_visits",
        sa.Column("site_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_bot_visits_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("site_id", "day", name=op.f("pk_bot_visits")),
    )


def downgrade() -> None:
    op.drop_table("bot_visits")
