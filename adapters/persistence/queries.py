"""The read side: report queries returning plain rows, always scoped to one account.

Visitors come from the per-day counts in `visitor_counts` and revenue from the per-day figures in
`revenue_days` (a few thousand rows per account, whatever the traffic), so a report adds up days; a range
that does not cover whole days of stored purchases reads `revenue_lines`, one flat line per purchase and per
crediting model. All three are kept up to date by the repositories, in the transaction that stores a
session, a purchase, its credits or a refund. Nothing here loads a domain aggregate.
"""

from __future__ import annotations

from adapters.persistence.purchase_reports import PurchaseReports
from adapters.persistence.source_reports import SourceReports


class SqlReportQueries(SourceReports, PurchaseReports):
    """The report queries port: reports by source (source_reports.py) and of purchases (purchase_reports.py),
    on the connection handling of report_reading.py."""
