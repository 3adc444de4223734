"""sessions keep no fingerprint: only a checkout reach needs one (the timing match), so no other row holds it

Revision ID: 0010_sessions_no_fingerprint
Revises: 0009_collect
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_sessions_no_fingerprint"
down_revision = "0009_collect"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_user_fingerprint")
        batch_op.drop_column("fingerprint")


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_sessions_user_fingerprint", ["user_id", "fingerprint", "started_at"], unique=False)
