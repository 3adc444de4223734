"""inbound events: no foreign key of their own to the account, which their site's row already holds

Revision ID: 0023_inbound_account_key
Revises: 0022_revenue_days

`inbound_events.user_id` is copied from the site's row by the insert that stores the event
(adapters/persistence/inbox.py), and deleting an account still deletes its events: users -> sites ->
inbound_events cascade. The key's check cost PostgreSQL 5 us of the 42 us it spends on an event in the
collect path's insert with two writers at once (docs/operations.md).
"""

from alembic import op

revision = "0023_inbound_account_key"
down_revision = "0022_revenue_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_inbound_events_user_id_users", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_inbound_events_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE")
