"""raw utm_source: the value a visitor's link carried ("yt"), kept next to the source it was named as (YouTube)

Revision ID: 0020_raw_utm_source
Revises: 0019_business_metrics

The landing page already kept the link's query, so what was stored before is filled from it; the visitor
counts and revenue lines are then rebuilt so a source's "Tagged as" breakdown covers history too.
"""

import sqlalchemy as sa
from alembic import op

from adapters.persistence.revenue_lines import rebuild_revenue_lines
from adapters.persistence.visitor_counts import rebuild_visitor_counts
from core.domain.touches import utm_values

revision = "0020_raw_utm_source"
down_revision = "0019_business_metrics"
branch_labels = None
depends_on = None

# (table, column prefix, key columns): every place a touch is stored.
_TOUCH_TABLES = (
    ("sessions", "", ("id",)),
    ("visitors", "first_touch_", ("id",)),
    ("visitors", "last_touch_", ("id",)),
    ("attributions", "touch_", ("purchase_id", "model")),
    ("purchase_touches", "touch_", ("purchase_id", "position")),
)


def upgrade() -> None:
    for table in dict.fromkeys(name for name, _, _ in _TOUCH_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, prefix, _ in _TOUCH_TABLES:
                if name == table:
                    batch_op.add_column(sa.Column(f"{prefix}utm_source", sa.String(length=200), nullable=True))
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("utm_source", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    for name, prefix, keys in _TOUCH_TABLES:
        table = sa.table(name, *(sa.column(k) for k in keys), sa.column(f"{prefix}landing_page"))
        raw = sa.table(name, *(sa.column(k) for k in keys), sa.column(f"{prefix}utm_source"))
        rows = bind.execute(sa.select(table).where(table.c[f"{prefix}landing_page"].like("%utm_source=%"))).all()
        for row in rows:
            value = utm_values(row._mapping[f"{prefix}landing_page"])["utm_source"]
            if value is not None:
                bind.execute(
                    sa.update(raw)
                    .where(*(raw.c[k] == row._mapping[k] for k in keys))
                    .values({f"{prefix}utm_source": value})
                )
    rebuild_visitor_counts(bind)
    rebuild_revenue_lines(bind)


def downgrade() -> None:
    op.execute("DELETE FROM visitor_counts WHERE dimension = 'source_tagged'")
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.drop_column("utm_source")
    for table in dict.fromkeys(name for name, _, _ in _TOUCH_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, prefix, _ in _TOUCH_TABLES:
                if name == table:
                    batch_op.drop_column(f"{prefix}utm_source")
