"""The read side of data subject requests: stored rows as plain, JSON-ready data (see core/ports/privacy.py).

Rows are read table by table straight from the schema in tables.py, so a column added later shows up in
exports without anyone remembering to add it here; only the secret columns are named, to leave them out.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

from adapters.persistence import tables as t
from core.ports.privacy import Rows

# Never exported: they open doors (hashes of passwords and tokens, encrypted platform credentials).
SECRET_COLUMNS = frozenset(
    {
        ("users", "password_hash"),
        ("users", "session_version"),
        ("api_tokens", "token_hash"),
        ("platform_integrations", "encrypted_credentials"),
        ("platform_integrations", "webhook_token_hash"),
    }
)

# The visitor-level tables: per person in a person export, counted in an account export.
TRACKING_TABLES = (
    t.visitors,
    t.sessions,
    t.events,
    t.inbound_events,
    t.visitor_emails,
    t.visitor_handoffs,
    t.checkout_reaches,
    t.purchase_touches,
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        # Raw webhook bodies are the platform's JSON; anything else is shown as base64.
        raw = bytes(value)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    return value


def _rows(connection: Any, table: Table, *where: ColumnElement[bool]) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if (table.name, c.name) not in SECRET_COLUMNS]
    order = list(table.primary_key.columns)
    result = connection.execute(select(*columns).where(*where).order_by(*order))
    return [{key: _json_value(value) for key, value in row._mapping.items()} for row in result]


class SqlPersonalDataReader:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def person_rows(
        self,
        account_id: int,
        visitor_ids: Collection[int],
        purchase_ids: Collection[int],
        delivery_ids: Collection[int] = (),
    ) -> Rows:
        visitors, purchases = sorted(visitor_ids), sorted(purchase_ids)
        mine_connections = select(t.platform_integrations.c.id).where(t.platform_integrations.c.user_id == account_id)
        with self._engine.connect() as c:
            return {
                "visitors": _rows(c, t.visitors, t.visitors.c.user_id == account_id, t.visitors.c.id.in_(visitors)),
                "sessions": _rows(c, t.sessions, t.sessions.c.visitor_id.in_(visitors)),
                "events": _rows(c, t.events, t.events.c.visitor_id.in_(visitors)),
                # Accepted events as they arrived, before (and for a while after) the pipeline processed them.
                "inbound_events": _rows(
                    c,
                    t.inbound_events,
                    t.inbound_events.c.user_id == account_id,
                    t.inbound_events.c.visitor_key.in_(
                        select(t.visitors.c.visitor_key).where(t.visitors.c.id.in_(visitors))
                    ),
                ),
                "visitor_emails": _rows(c, t.visitor_emails, t.visitor_emails.c.visitor_id.in_(visitors)),
                "visitor_handoffs": _rows(
                    c,
                    t.visitor_handoffs,
                    t.visitor_handoffs.c.from_visitor_id.in_(visitors)
                    | t.visitor_handoffs.c.to_visitor_id.in_(visitors),
                ),
                "checkout_reaches": _rows(c, t.checkout_reaches, t.checkout_reaches.c.visitor_id.in_(visitors)),
                "purchases": _rows(
                    c, t.purchases, t.purchases.c.user_id == account_id, t.purchases.c.id.in_(purchases)
                ),
                "refunds": _rows(c, t.refunds, t.refunds.c.purchase_id.in_(purchases)),
                "attributions": _rows(c, t.attributions, t.attributions.c.purchase_id.in_(purchases)),
                "purchase_touches": _rows(
                    c,
                    t.purchase_touches,
                    t.purchase_touches.c.purchase_id.in_(purchases) | t.purchase_touches.c.visitor_id.in_(visitors),
                ),
                "revenue_lines": _rows(c, t.revenue_lines, t.revenue_lines.c.purchase_id.in_(purchases)),
                # The platform's own words about the person (a Stripe event holds their name and address).
                "webhook_deliveries": _rows(
                    c,
                    t.webhook_deliveries,
                    t.webhook_deliveries.c.integration_id.in_(mine_connections),
                    t.webhook_deliveries.c.id.in_(sorted(delivery_ids)),
                ),
            }

    def account_rows(self, account_id: int) -> Rows:
        mine_purchases = select(t.purchases.c.id).where(t.purchases.c.user_id == account_id)
        mine_sites = select(t.sites.c.id).where(t.sites.c.user_id == account_id)
        mine_connections = select(t.platform_integrations.c.id).where(t.platform_integrations.c.user_id == account_id)
        with self._engine.connect() as c:
            return {
                "users": _rows(c, t.users, t.users.c.id == account_id),
                "api_tokens": _rows(c, t.api_tokens, t.api_tokens.c.user_id == account_id),
                "sites": _rows(c, t.sites, t.sites.c.user_id == account_id),
                "onboarding": _rows(c, t.onboarding, t.onboarding.c.user_id == account_id),
                "attribution_settings": _rows(
                    c, t.attribution_settings, t.attribution_settings.c.user_id == account_id
                ),
                "display_settings": _rows(c, t.display_settings, t.display_settings.c.user_id == account_id),
                "billing_subscriptions": _rows(
                    c, t.billing_subscriptions, t.billing_subscriptions.c.user_id == account_id
                ),
                "billing_notices": _rows(c, t.billing_notices, t.billing_notices.c.user_id == account_id),
                "billing_status_changes": _rows(
                    c, t.billing_status_changes, t.billing_status_changes.c.user_id == account_id
                ),
                "connection_attempts": _rows(c, t.connection_attempts, t.connection_attempts.c.user_id == account_id),
                "beta_members": _rows(c, t.beta_members, t.beta_members.c.user_id == account_id),
                "beta_setup_help": _rows(c, t.beta_setup_help, t.beta_setup_help.c.user_id == account_id),
                "beta_feedback": _rows(c, t.beta_feedback, t.beta_feedback.c.user_id == account_id),
                "feature_usage": _rows(c, t.feature_usage, t.feature_usage.c.user_id == account_id),
                "platform_integrations": _rows(
                    c, t.platform_integrations, t.platform_integrations.c.user_id == account_id
                ),
                "webhook_deliveries": _rows(
                    c, t.webhook_deliveries, t.webhook_deliveries.c.integration_id.in_(mine_connections)
                ),
                "purchases": _rows(c, t.purchases, t.purchases.c.user_id == account_id),
                "refunds": _rows(c, t.refunds, t.refunds.c.purchase_id.in_(mine_purchases)),
                "attributions": _rows(c, t.attributions, t.attributions.c.purchase_id.in_(mine_purchases)),
                "revenue_lines": _rows(c, t.revenue_lines, t.revenue_lines.c.user_id == account_id),
                "visitor_counts": _rows(c, t.visitor_counts, t.visitor_counts.c.user_id == account_id),
                "revenue_days": _rows(c, t.revenue_days, t.revenue_days.c.user_id == account_id),
                "source_rules": _rows(c, t.source_rules, t.source_rules.c.user_id == account_id),
                "bot_visits": _rows(c, t.bot_visits, t.bot_visits.c.site_id.in_(mine_sites)),
            }

    def tracking_counts(self, account_id: int) -> dict[str, int]:
        mine_sites = select(t.sites.c.id).where(t.sites.c.user_id == account_id)
        mine_purchases = select(t.purchases.c.id).where(t.purchases.c.user_id == account_id)
        where: dict[str, ColumnElement[bool]] = {
            "visitors": t.visitors.c.user_id == account_id,
            "sessions": t.sessions.c.user_id == account_id,
            "events": t.events.c.site_id.in_(mine_sites),
            "inbound_events": t.inbound_events.c.user_id == account_id,
            "visitor_emails": t.visitor_emails.c.user_id == account_id,
            "visitor_handoffs": t.visitor_handoffs.c.user_id == account_id,
            "checkout_reaches": t.checkout_reaches.c.user_id == account_id,
            "purchase_touches": t.purchase_touches.c.purchase_id.in_(mine_purchases),
        }
        with self._engine.connect() as c:
            return {
                table.name: int(
                    c.execute(select(func.count()).select_from(table).where(where[table.name])).scalar_one()
                )
                for table in TRACKING_TABLES
            }
