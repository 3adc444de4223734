"""sites keep the creator's own checkout paths (the snippet carries them, page views there reach checkout)

Revision ID: 0018_site_checkout_paths
Revises: 0017_operators
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_site_checkout_paths"
down_revision = "0017_operators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkout_paths", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("checkout_paths")
