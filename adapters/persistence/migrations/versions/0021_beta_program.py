"""beta program and feature usage: beta members (invited by email, joined as an account), their setup-help
requests and weekly feedback, and per-account per-day counts of the dashboard views, exports and drill-downs used

Revision ID: 0021_beta_program
Revises: 0020_raw_utm_source
"""

import sqlalchemy as sa
from alembic import op

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0021_beta_program"
down_revision = "0020_raw_utm_source"
branch_labels = None
depends_on = None


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "beta_members",
        sa.Column("id", Id, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("user_id", Id, nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_prompt_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("testimonial_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("testimonial_withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        _owner("beta_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_members")),
        sa.UniqueConstraint("email", name=op.f("uq_beta_members_email")),
        sa.UniqueConstraint("user_id", name=op.f("uq_beta_members_user_id")),
    )
    op.create_table(
        "beta_setup_help",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _owner("beta_setup_help"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_setup_help")),
    )
    op.create_index("ix_beta_setup_help_user", "beta_setup_help", ["user_id", "requested_at"], unique=False)
    op.create_table(
        "beta_feedback",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("confusing", sa.Text(), nullable=False),
        sa.Column("missing_report", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        _owner("beta_feedback"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_feedback")),
    )
    op.create_index("ix_beta_feedback_user", "beta_feedback", ["user_id", "submitted_at"], unique=False)
    op.create_table(
        "feature_usage",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feature", sa.String(60), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        _owner("feature_usage"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_usage")),
        sa.UniqueConstraint("user_id", "day", "feature", name=op.f("uq_feature_usage_user_id")),
    )


def downgrade() -> None:
    op.drop_table("feature_usage")
    op.drop_index("ix_beta_feedback_user", table_name="beta_feedback")
    op.drop_table("beta_feedback")
    op.drop_index("ix_beta_setup_help_user", table_name="beta_setup_help")
    op.drop_table("beta_setup_help")
    op.drop_table("beta_members")
