"""onboarding connection: the wizard remembers the platform connection whose sync it shows

Revision ID: 0007_onboarding_connection
Revises: 0006_report_speed
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0007_onboarding_connection"
down_revision = "0006_report_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("onboarding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", Id, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_onboarding_connection_id_platform_integrations"),
            "platform_integrations",
            ["connection_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("onboarding", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_onboarding_connection_id_platform_integrations"), type_="foreignkey")
        batch_op.drop_column("connection_id")
