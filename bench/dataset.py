"""A seeded, realistic dataset for one creator: visitors arriving from a channel mix over a year, coming
back in later sessions, browsing a few pages, some identifying and buying, some purchases never matched,
a few refunded.

Rows are bulk-inserted (COPY on PostgreSQL, executemany on SQLite) but every derived value comes from the
same domain rules the services use: touches from `touch_from_landing`, sessions by the idle timeout, a
visitor's first and last touch from `Visitor.record_touch`, credits from `credits_for`, the per-day visitor
counts from `replay_visitor` (once per link and day for the many one-session visitors), the reports' revenue
lines from `lines_for` and their per-day figures from `day_figures` (rebuild_revenue_days, in one pass at the
end). So the reports read what live traffic would have stored.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, insert, text

from adapters.persistence import tables as t
from adapters.persistence.revenue_days import rebuild_revenue_days
from adapters.persistence.revenue_lines import lines_for
from adapters.persistence.rows import touch_values
from adapters.persistence.visitor_counts import store_net_counts
from core.domain.attribution import RULES_VERSION, Model, credits_for
from core.domain.touches import Touch, touch_from_landing
from core.domain.visitor_counts import CountKey, net_changes, replay_visitor
from core.domain.visitors import Visitor

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the benchmark's "now"
DAYS = 365
DOMAIN = "creator.example"
SITE = f"https://{DOMAIN}"

# (weight, query string or None, referrer or None); "{c}" is replaced with one of the campaigns.
ARRIVALS: list[tuple[float, str | None, str | None, tuple[str, ...]]] = [
    (
        24,
        "utm_source=youtube&utm_medium=video&utm_campaign={c}",
        "https://www.youtube.com/",
        ("launch", "tips", "webinar", "shorts"),
    ),
    (18, None, "https://www.google.com/", ()),
    (8, None, "https://l.instagram.com/", ()),
    (4, "utm_source=instagram&utm_medium=social&utm_campaign={c}", None, ("bio", "stories")),
    (10, "utm_source=newsletter&utm_medium=email&utm_campaign={c}", None, ("weekly", "launch", "black-friday")),
    (12, None, None, ()),
    (6, "utm_source=facebook&utm_medium=cpc&utm_campaign={c}", None, ("launch-ads", "retargeting")),
    (5, "utm_source=google&utm_medium=cpc&utm_campaign={c}&gclid=abc123", None, ("brand", "course-keywords")),
    (5, None, "https://www.tiktok.com/", ()),
    (3, None, "https://podcast.example.org/episodes/42", ()),
    (3, None, "https://www.reddit.com/r/learnprogramming/", ()),
    (2, "utm_source=partner&utm_medium=affiliate&utm_campaign={c}", None, ("jane", "sam")),
]
PAGES = [
    ("/", 30),
    ("/course", 20),
    ("/free-guide", 12),
    ("/webinar", 8),
    ("/pricing", 10),
    ("/blog/how-to-start", 10),
    ("/blog/mistakes", 6),
    ("/about", 4),
]
PRICES = [(4900, 30), (9900, 30), (19900, 25), (49900, 15)]
EVENT_COLUMNS = [
    "id",
    "site_id",
    "visitor_id",
    "session_id",
    "client_event_id",
    "kind",
    "url",
    "referrer",
    "title",
    "occurred_at",
]


@dataclass
class Rows:
    visitors: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    events: list[tuple[Any, ...]]
    purchases: list[dict[str, Any]]
    attributions: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    revenue_lines: list[dict[str, Any]]


def _weighted(rng: random.Random, items: list[tuple[Any, float]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


class Generator:
    def __init__(self, seed: int, account_id: int, site_id: int) -> None:
        self.rng = random.Random(seed)
        self.account_id = account_id
        self.site_id = site_id
        self.ids = {"visitors": 0, "sessions": 0, "events": 0, "purchases": 0, "refunds": 0}
        self.events = 0
        self.counts: dict[tuple[Model, CountKey, date], int] = {}
        self._touches: dict[tuple[str, str | None], Touch] = {}
        # The counts a one-session visitor makes depend only on the link they came by and the day: most
        # visitors come once, so their counts are replayed once per link and day.
        self._one_session: dict[tuple[str, str | None, date], dict[tuple[Model, CountKey, date], int]] = {}
        self._own = frozenset({DOMAIN})

    def _next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _arrival(self, returning: bool) -> tuple[str, str | None]:
        rng = self.rng
        if returning and rng.random() < 0.5:
            query, referrer, campaigns = None, None, ()
        else:
            _, query, referrer, campaigns = rng.choices(ARRIVALS, weights=[a[0] for a in ARRIVALS])[0]
        page = _weighted(rng, PAGES)
        url = SITE + page
        if query:
            url += "?" + query.replace("{c}", rng.choice(campaigns) if campaigns else "")
        return url, referrer

    def _touch(self, url: str, referrer: str | None, when: datetime) -> Touch:
        key = (url, referrer)
        if key not in self._touches:
            self._touches[key] = touch_from_landing(url=url, referrer=referrer, occurred_at=END, own_domains=self._own)
        return replace(self._touches[key], occurred_at=when)

    def _replayed(
        self, touches: list[Touch], links: list[tuple[str, str | None]]
    ) -> dict[tuple[Model, CountKey, date], int]:
        if len(touches) > 1:
            return net_changes(replay_visitor(touches))
        key = (*links[0], touches[0].occurred_at.date())
        if key not in self._one_session:
            self._one_session[key] = net_changes(replay_visitor(touches))
        return self._one_session[key]

    def visitor(self, rows: Rows) -> None:
        rng = self.rng
        vid = self._next("visitors")
        # Traffic grows over the year: later days are likelier.
        first_at = END - timedelta(days=DAYS) * (1 - rng.random() ** 0.6)
        visitor = Visitor(site_id=self.site_id, key=f"bv{vid:010d}", first_seen_at=first_at, id=vid)
        touches: list[Touch] = []
        links: list[tuple[str, str | None]] = []
        at = first_at
        for number in range(min(12, 1 + int(rng.expovariate(1.5)))):
            if number:
                at += timedelta(hours=rng.uniform(1, 24 * 20))
                if at >= END:
                    break
            url, referrer = self._arrival(returning=number > 0)
            touch = self._touch(url, referrer, at)
            touches.append(touch)
            links.append((url, referrer))
            visitor.record_touch(touch)
            sid = self._next("sessions")
            seen = at
            for view in range(min(15, 1 + int(rng.expovariate(0.7)))):
                if view:
                    seen += timedelta(seconds=rng.uniform(20, 300))
                    page_url, page_referrer = SITE + _weighted(rng, PAGES), None
                else:
                    page_url, page_referrer = url, referrer
                eid = self._next("events")
                rows.events.append(
                    (eid, self.site_id, vid, sid, f"be{eid:011d}", "pageview", page_url, page_referrer, None, seen)
                )
            session_touch = {k.removeprefix("touch_"): v for k, v in touch_values("touch", touch).items()}
            del session_touch["at"]
            rows.sessions.append(
                {
                    "id": sid,
                    "visitor_id": vid,
                    "user_id": self.account_id,
                    "started_at": at,
                    "last_seen_at": seen,
                    **session_touch,
                }
            )
            at = seen
        for row, delta in self._replayed(touches, links).items():
            self.counts[row] = self.counts.get(row, 0) + delta
        if rng.random() < 0.10:
            visitor.identify(f"buyer{vid}@example.com")
            eid = self._next("events")
            rows.events.append(
                (
                    eid,
                    self.site_id,
                    vid,
                    None,
                    f"be{eid:011d}",
                    "identify",
                    SITE + "/free-guide",
                    None,
                    None,
                    at + timedelta(seconds=30),
                )
            )
        rows.visitors.append(
            {
                "id": vid,
                "site_id": self.site_id,
                "user_id": self.account_id,
                "visitor_key": visitor.key,
                "email": visitor.email,
                "first_seen_at": first_at,
                **touch_values("first_touch", visitor.first_touch),
                **touch_values("last_touch", visitor.last_touch),
            }
        )
        if visitor.email and rng.random() < 0.35:
            bought_at = min(at + timedelta(minutes=rng.uniform(2, 60 * 24 * 3)), END - timedelta(minutes=1))
            carried = rng.random() < 0.2
            self._purchase(rows, visitor.email, bought_at, vid, touches, visitor.key if carried else None)

    def _purchase(
        self,
        rows: Rows,
        email: str,
        bought_at: datetime,
        visitor_id: int | None,
        touches: list[Touch],
        visitor_key: str | None,
    ) -> None:
        rng = self.rng
        pid = self._next("purchases")
        amount = _weighted(rng, PRICES)
        currency = "EUR" if rng.random() < 0.03 else "USD"
        credits = credits_for(touches, bought_at) if visitor_id is not None else []
        purchase = {
            "id": pid,
            "user_id": self.account_id,
            "platform": "kajabi",
            "platform_purchase_id": f"bp{pid}",
            "email": email,
            "amount": amount,
            "currency": currency,
            "course_name": "The Course",
            "purchased_at": bought_at,
            "visitor_key": visitor_key,
            "visitor_id": visitor_id if credits else None,
            "attribution_status": "matched" if credits else "unmatched",
            "match_method": ("visitor_id" if visitor_key else "email") if credits else None,
        }
        rows.purchases.append(purchase)
        credit_rows = [
            {
                "purchase_id": pid,
                "model": c.model.value,
                "rules_version": RULES_VERSION,
                **touch_values("touch", c.touch),
            }
            for c in credits
        ]
        rows.attributions += credit_rows
        refunded = 0
        if rng.random() < 0.04:
            rid = self._next("refunds")
            refunded = amount if rng.random() < 0.7 else amount // 2
            rows.refunds.append(
                {
                    "id": rid,
                    "purchase_id": pid,
                    "platform_refund_id": f"br{rid}",
                    "amount": refunded,
                    "refunded_at": min(bought_at + timedelta(days=rng.uniform(1, 14)), END),
                }
            )
        rows.revenue_lines += lines_for(purchase, refunded, credit_rows)

    def unmatched_purchase(self, rows: Rows) -> None:
        when = END - timedelta(days=DAYS) * (1 - self.rng.random() ** 0.6)
        self._purchase(rows, f"stranger{self.ids['purchases']}@example.com", when, None, [], None)

    def batches(self, target_events: int, batch_visitors: int = 5000) -> Iterator[Rows]:
        while self.ids["events"] < target_events:
            rows = Rows([], [], [], [], [], [], [])
            for _ in range(batch_visitors):
                self.visitor(rows)
                if self.rng.random() < 0.004:
                    self.unmatched_purchase(rows)
                if self.ids["events"] >= target_events:
                    break
            yield rows


def _copy(raw: Any, table: Table, rows: list[dict[str, Any]] | list[tuple[Any, ...]], columns: list[str]) -> None:
    if not rows:
        return
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row if isinstance(row, tuple) else [row[c] for c in columns])


def generate(engine: Engine, target_events: int, seed: int = 7, progress: Any = print) -> dict[str, int]:
    """Create the benchmark creator and their data in an empty, migrated database; returns row counts."""
    with engine.begin() as connection:
        account_id = connection.execute(
            insert(t.users)
            .values(email="bench@example.com", created_at=END - timedelta(days=DAYS + 1))
            .returning(t.users.c.id)
        ).scalar_one()
        site_id = connection.execute(
            insert(t.sites)
            .values(user_id=account_id, public_key="cs_bench", allowed_domains=[DOMAIN])
            .returning(t.sites.c.id)
        ).scalar_one()
    generator = Generator(seed, account_id, site_id)
    postgres = engine.dialect.name == "postgresql"
    order = [
        (t.visitors, "visitors"),
        (t.sessions, "sessions"),
        (t.events, "events"),
        (t.purchases, "purchases"),
        (t.attributions, "attributions"),
        (t.refunds, "refunds"),
        (t.revenue_lines, "revenue_lines"),
    ]
    for rows in generator.batches(target_events):
        if postgres:
            raw = engine.raw_connection()
            try:
                driver = raw.driver_connection
                for table, name in order:
                    data = getattr(rows, name)
                    columns = EVENT_COLUMNS if name == "events" else (list(data[0]) if data else [])
                    _copy(driver, table, data, columns)
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as connection:
                for table, name in order:
                    data = getattr(rows, name)
                    if name == "events":
                        data = [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in data]
                    if data:
                        connection.execute(insert(table), data)
        progress(f"  {generator.ids['events']:>10,} events, {generator.ids['visitors']:,} visitors")
    with engine.begin() as connection:
        store_net_counts(connection, account_id, {k: v for k, v in generator.counts.items() if v})
        rebuild_revenue_days(connection, account_id)
        if postgres:
            for table in ("visitors", "sessions", "events", "purchases", "refunds"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        else:
            connection.execute(text("ANALYZE"))
    if postgres:
        # VACUUM sets the visibility map the report queries' index-only scans need; a bulk load leaves it empty.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return dict(generator.ids)


# Copies of a generated level (PostgreSQL): every row again with its ids shifted past the existing ones and
# its unique strings (visitor keys, client event ids, platform ids, emails, buyers) suffixed, so each copy is
# another crowd of visitors and buyers with the same shape and the same times.
_SHIFTED_IDS = {
    "visitors": {"id": "visitors"},
    "sessions": {"id": "sessions", "visitor_id": "visitors"},
    "events": {"id": "events", "visitor_id": "visitors", "session_id": "sessions"},
    "purchases": {"id": "purchases", "visitor_id": "visitors"},
    "attributions": {"purchase_id": "purchases"},
    "refunds": {"id": "refunds", "purchase_id": "purchases"},
    "revenue_lines": {"purchase_id": "purchases"},
}
_SUFFIXED = {
    "visitors": ("visitor_key",),
    "events": ("client_event_id",),
    "purchases": ("platform_purchase_id", "visitor_key"),
    "refunds": ("platform_refund_id",),
}
_PREFIXED = {"visitors": ("email",), "purchases": ("email",), "revenue_lines": ("buyer",)}


def multiply(engine: Engine, copies: int, progress: Any = print) -> None:
    """Turn a generated PostgreSQL level into `copies` times as much data for the same creator, in SQL.

    One INSERT ... SELECT per table makes every copy at once, with the tables' secondary indexes dropped and
    built again afterwards (one sort each instead of millions of index insertions) and foreign keys not
    checked row by row (each copied row points at a copied row). The per-day visitor counts and revenue
    figures are sums over visitors and buyers who are all copied alike, so each is multiplied instead.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("multiplying a level is done in PostgreSQL only")
    names = list(_SHIFTED_IDS)
    with engine.begin() as connection:
        highest = {
            name: int(connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {name}")).scalar_one())
            for name in ("visitors", "sessions", "events", "purchases", "refunds")
        }
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        indexes = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(:names)"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            ),
            {"names": names},
        ).all()
        for index, _ in indexes:
            connection.execute(text(f'DROP INDEX "{index}"'))
        for name in names:
            table = t.metadata.tables[name]
            values = []
            for column in table.columns:
                value = column.name
                if column.name in _SHIFTED_IDS[name]:
                    value = f"{column.name} + c.n * {highest[_SHIFTED_IDS[name][column.name]]}"
                elif column.name in _SUFFIXED.get(name, ()):
                    value = f"{column.name} || '-c' || c.n"
                elif column.name in _PREFIXED.get(name, ()):
                    value = f"'c' || c.n || '.' || {column.name}"
                values.append(value)
            columns = ", ".join(c.name for c in table.columns)
            selected = f"SELECT {', '.join(values)} FROM {name} CROSS JOIN generate_series(1, {copies - 1}) AS c(n)"
            connection.execute(text(f"INSERT INTO {name} ({columns}) {selected}"))
            progress(f"  {name} copied")
        for _index, definition in indexes:
            connection.execute(text(definition))
        progress(f"  {len(indexes)} indexes built again")
        connection.execute(text("UPDATE visitor_counts SET visitors = visitors * :copies"), {"copies": copies})
        figures = ", ".join(f"{name} = {name} * :copies" for name in ("revenue", "purchases", "matched", "students"))
        connection.execute(text(f"UPDATE revenue_days SET {figures}"), {"copies": copies})
        for name in ("visitors", "sessions", "events", "purchases", "refunds"):
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
