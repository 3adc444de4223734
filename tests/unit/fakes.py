"""In-memory fakes of core's ports, for fast service tests with no I/O."""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

from core.domain.attribution import DEFAULT_LOOKBACK, Credit
from core.domain.beta import BetaMember, FeedbackAnswer, SetupHelpRequest
from core.domain.checkout import CheckoutReach
from core.domain.connections import Connection, ConnectionStatus, StoredDelivery, SyncState
from core.domain.delivery_privacy import erase_from_body, mentions
from core.domain.display import DisplaySettings
from core.domain.events import InboundEvent, RateLimit, TrackerEvent
from core.domain.feature_usage import FeatureTotal
from core.domain.identities import EmailClaim, Handoff, IdentityTouch
from core.domain.money import Money
from core.domain.onboarding import OnboardingProgress
from core.domain.purchases import MatchMethod, Purchase, RefundRecord
from core.domain.sites import Account, Site
from core.domain.source_rules import SourceRule
from core.domain.subscriptions import NEVER_CHARGES_AGAIN, BillingEvent, Subscription, SubscriptionSnapshot
from core.domain.touches import Touch
from core.domain.visitors import Session, Visitor
from core.ports.billing import BillingUnavailable, CheckoutRequest, ForgedBillingEvent
from core.ports.mailer import Mail
from core.ports.tokens import BadToken, ExpiredToken
from core.services.billing_notices import BillingNotice, DuplicateSubscriptionReport


class FixedClock:
    def __init__(self, now: datetime = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class FakeRateLimiter:
    """Allows everything except the keys a test blocks."""

    def __init__(self) -> None:
        self.blocked: set[str] = set()
        self.seen: list[str] = []

    def allow(self, key: str, limit: RateLimit) -> bool:
        self.seen.append(key)
        return key not in self.blocked


class RecordingJobQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[int | str, ...]]] = []

    def enqueue(self, task: str, *args: int | str) -> None:
        self.jobs.append((task, args))


@dataclass
class Store:
    """What the fake database holds; shared by every fake unit of work made from it."""

    accounts: dict[int, Account] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    sites: dict[int, Site] = field(default_factory=dict)
    visitors: dict[int, Visitor] = field(default_factory=dict)
    sessions: dict[int, Session] = field(default_factory=dict)
    events: dict[tuple[int, str], TrackerEvent] = field(default_factory=dict)
    inbound: dict[int, tuple[InboundEvent, datetime | None, str | None]] = field(default_factory=dict)
    purchases: dict[int, Purchase] = field(default_factory=dict)
    refunds: dict[tuple[int, str], RefundRecord] = field(default_factory=dict)
    credits: dict[int, list[Credit]] = field(default_factory=dict)
    onboarding: dict[int, OnboardingProgress] = field(default_factory=dict)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    trial_ends_at: dict[int, datetime] = field(default_factory=dict)
    billing_events: set[str] = field(default_factory=set)
    billing_notices: set[tuple[int, str, str]] = field(default_factory=set)
    connections: dict[int, Connection] = field(default_factory=dict)
    connection_attempts: list[tuple[int, str, datetime, str | None]] = field(default_factory=list)
    deliveries: dict[int, StoredDelivery] = field(default_factory=dict)
    histories: dict[int, list[IdentityTouch]] = field(default_factory=dict)
    claims: dict[tuple[int, str, datetime], tuple[int, EmailClaim]] = field(default_factory=dict)
    handoffs: dict[tuple[int, int, datetime], tuple[int, Handoff]] = field(default_factory=dict)
    reaches: list[tuple[int, CheckoutReach]] = field(default_factory=list)
    lookbacks: dict[int, timedelta] = field(default_factory=dict)
    display: dict[int, DisplaySettings] = field(default_factory=dict)
    salts: dict[datetime, bytes] = field(default_factory=dict)
    source_rules: dict[int, list[SourceRule]] = field(default_factory=dict)
    bot_visits: dict[tuple[int, date], int] = field(default_factory=dict)
    beta_members: dict[int, BetaMember] = field(default_factory=dict)
    setup_help: dict[int, SetupHelpRequest] = field(default_factory=dict)
    feedback: list[FeedbackAnswer] = field(default_factory=list)
    feature_usage: dict[tuple[int, date, str], int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


T = TypeVar("T")


def _copy(item: T) -> T:
    return replace(item)  # type: ignore[type-var]


class _Repo:
    def __init__(self, store: Store) -> None:
        self._s = store


class FakeAccounts(_Repo):
    def add(self, account: Account) -> Account:
        account.id = next(self._s.ids)
        self._s.accounts[account.id] = _copy(account)
        return account

    def get(self, account_id: int) -> Account | None:
        found = self._s.accounts.get(account_id)
        return _copy(found) if found else None

    def get_by_email(self, email: str) -> Account | None:
        return next((_copy(a) for a in self._s.accounts.values() if a.email == email), None)

    def update(self, account: Account) -> None:
        assert account.id in self._s.accounts
        self._s.accounts[account.id] = _copy(account)

    def update_if_password_is(self, account: Account, password_hash: str | None) -> bool:
        assert account.id in self._s.accounts
        if self._s.accounts[account.id].password_hash != password_hash:
            return False
        self._s.accounts[account.id] = _copy(account)
        return True

    def delete(self, account_id: int) -> None:
        self._s.accounts.pop(account_id, None)
        self._s.tokens = {h: a for h, a in self._s.tokens.items() if a != account_id}
        self._s.sites = {i: site for i, site in self._s.sites.items() if site.account_id != account_id}
        self._s.purchases = {i: p for i, p in self._s.purchases.items() if p.account_id != account_id}
        self._s.onboarding.pop(account_id, None)


class FakeApiTokens(_Repo):
    def add(self, account_id: int, token_hash: str, name: str, created_at: datetime) -> None:
        self._s.tokens[token_hash] = account_id

    def account_id_for(self, token_hash: str, used_at: datetime) -> int | None:
        return self._s.tokens.get(token_hash)


class FakeSites(_Repo):
    def add(self, site: Site) -> Site:
        site.id = next(self._s.ids)
        self._s.sites[site.id] = _copy(site)
        return site

    def get_by_key(self, public_key: str) -> Site | None:
        return next((_copy(s) for s in self._s.sites.values() if s.public_key == public_key), None)

    def list_for_account(self, account_id: int) -> Sequence[Site]:
        return [_copy(s) for s in self._s.sites.values() if s.account_id == account_id]

    def get_for_account(self, account_id: int, site_id: int) -> Site | None:
        site = self._s.sites.get(site_id)
        return _copy(site) if site is not None and site.account_id == account_id else None

    def has_events(self, site_id: int) -> bool:
        accepted = any(e.site_id == site_id for e, _, _ in self._s.inbound.values())
        return accepted or any(key[0] == site_id for key in self._s.events)

    def update_settings(self, site: Site) -> None:
        assert site.id in self._s.sites
        self._s.sites[site.id] = _copy(site)


class FakeVisitors(_Repo):
    def _account(self, visitor: Visitor) -> int:
        return self._s.sites[visitor.site_id].account_id

    def get_by_key(self, site_id: int, key: str) -> Visitor | None:
        return next((_copy(v) for v in self._s.visitors.values() if v.site_id == site_id and v.key == key), None)

    def get(self, visitor_id: int) -> Visitor | None:
        found = self._s.visitors.get(visitor_id)
        return _copy(found) if found else None

    def get_or_add(self, visitor: Visitor) -> tuple[Visitor, bool]:
        existing = self.get_by_key(visitor.site_id, visitor.key)
        if existing is not None:
            return existing, False
        visitor.id = next(self._s.ids)
        self._s.visitors[visitor.id] = _copy(visitor)
        return visitor, True

    def update(self, visitor: Visitor) -> None:
        assert visitor.id in self._s.visitors
        self._s.visitors[visitor.id] = _copy(visitor)

    def with_email(self, account_id: int, email: str) -> Sequence[Visitor]:
        return [_copy(v) for v in self._s.visitors.values() if v.email == email and self._account(v) == account_id]

    def with_key(self, account_id: int, key: str) -> Visitor | None:
        return next(
            (_copy(v) for v in self._s.visitors.values() if v.key == key and self._account(v) == account_id), None
        )

    def keys(self, visitor_ids: Collection[int]) -> dict[int, str]:
        return {v: self._s.visitors[v].key for v in visitor_ids if v in self._s.visitors}

    def delete(self, visitor_id: int) -> None:
        s = self._s
        gone = s.visitors.pop(visitor_id, None)
        if gone is not None:
            s.events = {k: e for k, e in s.events.items() if (k[0], e.visitor_key) != (gone.site_id, gone.key)}
        s.sessions = {k: v for k, v in s.sessions.items() if v.visitor_id != visitor_id}
        s.claims = {k: v for k, v in s.claims.items() if v[1].visitor_id != visitor_id}
        s.handoffs = {k: v for k, v in s.handoffs.items() if visitor_id not in k[:2]}
        s.reaches = [r for r in s.reaches if r[1].visitor_id != visitor_id]
        s.histories = {k: [t for t in v if t.visitor_id != visitor_id] for k, v in s.histories.items()}
        for purchase in s.purchases.values():
            if purchase.visitor_id == visitor_id:
                purchase.visitor_id = None


class FakeIdentities(_Repo):
    def add_claim(self, account_id: int, claim: EmailClaim) -> bool:
        key = (claim.visitor_id, claim.email, claim.claimed_at)
        if key in self._s.claims:
            return False
        self._s.claims[key] = (account_id, claim)
        return True

    def claims_of(self, visitor_ids: Collection[int]) -> Sequence[EmailClaim]:
        return [c for _, c in self._s.claims.values() if c.visitor_id in visitor_ids]

    def claims_with_email(self, account_id: int, emails: Collection[str]) -> Sequence[EmailClaim]:
        return [c for a, c in self._s.claims.values() if a == account_id and c.email in emails]

    def add_handoff(self, account_id: int, handoff: Handoff) -> bool:
        key = (handoff.from_visitor_id, handoff.to_visitor_id, handoff.handed_at)
        if key in self._s.handoffs:
            return False
        self._s.handoffs[key] = (account_id, handoff)
        return True

    def handoffs_of(self, visitor_ids: Collection[int]) -> Sequence[Handoff]:
        return [
            h
            for _, h in self._s.handoffs.values()
            if h.from_visitor_id in visitor_ids or h.to_visitor_id in visitor_ids
        ]

    def add_checkout_reach(self, account_id: int, reach: CheckoutReach) -> None:
        self._s.reaches.append((account_id, reach))

    def checkout_reaches(self, account_id: int, since: datetime, until: datetime) -> Sequence[CheckoutReach]:
        return [r for a, r in self._s.reaches if a == account_id and since <= r.reached_at <= until]

    def checkout_reaches_of(self, visitor_ids: Collection[int]) -> Sequence[CheckoutReach]:
        return [r for _, r in self._s.reaches if r.visitor_id in visitor_ids]

    def has_facts(self, visitor_id: int) -> bool:
        return (
            any(c.visitor_id == visitor_id for _, c in self._s.claims.values())
            or any(visitor_id in k[:2] for k in self._s.handoffs)
            or any(r.visitor_id == visitor_id for _, r in self._s.reaches)
        )


class FakeAttributionSettings(_Repo):
    def lookback(self, account_id: int) -> timedelta:
        return self._s.lookbacks.get(account_id, DEFAULT_LOOKBACK)

    def set_lookback(self, account_id: int, lookback: timedelta) -> None:
        self._s.lookbacks[account_id] = lookback


class FakeDisplaySettings(_Repo):
    def get(self, account_id: int) -> DisplaySettings:
        return self._s.display.get(account_id, DisplaySettings())

    def set(self, account_id: int, settings: DisplaySettings) -> None:
        self._s.display[account_id] = settings


class FakeBotVisits(_Repo):
    def add(self, site_id: int, day: date) -> None:
        self._s.bot_visits[(site_id, day)] = self._s.bot_visits.get((site_id, day), 0) + 1


class FakeBeta(_Repo):
    def get_by_email(self, email: str) -> BetaMember | None:
        return next((_copy(m) for m in self._s.beta_members.values() if m.email == email), None)

    def for_account(self, account_id: int) -> BetaMember | None:
        return next((_copy(m) for m in self._s.beta_members.values() if m.account_id == account_id), None)

    def save(self, member: BetaMember) -> BetaMember:
        if member.id is None:
            member.id = next(self._s.ids)
        self._s.beta_members[member.id] = _copy(member)
        return member

    def members(self) -> list[BetaMember]:
        return sorted(self._s.beta_members.values(), key=lambda m: (m.invited_at, m.id or 0), reverse=True)

    def add_setup_help(self, account_id: int, message: str, requested_at: datetime) -> int:
        request_id = next(self._s.ids)
        email = self._s.accounts[account_id].email
        self._s.setup_help[request_id] = SetupHelpRequest(request_id, account_id, email, message, requested_at, None)
        return request_id

    def open_setup_help(self, account_id: int) -> SetupHelpRequest | None:
        return next((r for r in self._s.setup_help.values() if r.account_id == account_id and r.is_open), None)

    def setup_help_requests(self) -> list[SetupHelpRequest]:
        return sorted(self._s.setup_help.values(), key=lambda r: (not r.is_open, -r.requested_at.timestamp()))

    def close_setup_help(self, request_id: int, closed_at: datetime) -> bool:
        request = self._s.setup_help.get(request_id)
        if request is None or not request.is_open:
            return False
        self._s.setup_help[request_id] = replace(request, closed_at=closed_at)
        return True

    def add_feedback(self, account_id: int, confusing: str, missing_report: str, submitted_at: datetime) -> None:
        email = self._s.accounts[account_id].email
        self._s.feedback.append(FeedbackAnswer(account_id, email, confusing, missing_report, submitted_at))

    def feedback(self) -> list[FeedbackAnswer]:
        return sorted(self._s.feedback, key=lambda f: f.submitted_at, reverse=True)


class FakeFeatureUsage(_Repo):
    def count(self, account_id: int, day: date, feature: str) -> None:
        key = (account_id, day, feature)
        self._s.feature_usage[key] = self._s.feature_usage.get(key, 0) + 1

    def totals(self, since: date) -> list[FeatureTotal]:
        features = sorted({f for (_, d, f) in self._s.feature_usage if d >= since})
        totals = [
            FeatureTotal(
                feature,
                len({a for (a, d, f) in self._s.feature_usage if f == feature and d >= since}),
                sum(n for (a, d, f), n in self._s.feature_usage.items() if f == feature and d >= since),
                sum(1 for (a, d, f) in self._s.feature_usage if f == feature and d >= since),
            )
            for feature in features
        ]
        return sorted(totals, key=lambda t: -t.uses)


class FakeSourceRules(_Repo):
    def for_account(self, account_id: int) -> list[SourceRule]:
        return list(self._s.source_rules.get(account_id, []))

    def replace(self, account_id: int, rules: Sequence[SourceRule]) -> None:
        self._s.source_rules[account_id] = list(rules)


class FakeFingerprintSalts(_Repo):
    def for_day(self, day: datetime) -> bytes | None:
        return self._s.salts.get(day)

    def add(self, day: datetime, salt: bytes) -> None:
        self._s.salts.setdefault(day, salt)

    def delete_older_than(self, moment: datetime) -> int:
        old = [day for day in self._s.salts if day < moment]
        for day in old:
            del self._s.salts[day]
        return len(old)


class FakeSessions(_Repo):
    def latest(self, visitor_id: int) -> Session | None:
        mine = [s for s in self._s.sessions.values() if s.visitor_id == visitor_id]
        return _copy(max(mine, key=lambda s: (s.started_at, s.id or 0))) if mine else None

    def add(self, session: Session) -> Session:
        session.id = next(self._s.ids)
        self._s.sessions[session.id] = _copy(session)
        return session

    def touch_seen(self, session: Session) -> None:
        assert session.id is not None
        self._s.sessions[session.id].last_seen_at = session.last_seen_at

    def touches(self, visitor_id: int) -> Sequence[Touch]:
        mine = sorted((s for s in self._s.sessions.values() if s.visitor_id == visitor_id), key=lambda s: s.started_at)
        return [s.touch for s in mine]

    def touches_of(self, visitor_ids: Collection[int]) -> dict[int, list[Touch]]:
        return {v: list(self.touches(v)) for v in visitor_ids}


class FakeEvents(_Repo):
    def add(self, event: TrackerEvent, site_id: int, visitor_id: int, session_id: int | None) -> bool:
        key = (site_id, event.client_event_id)
        if key in self._s.events:
            return False
        self._s.events[key] = event
        return True

    def delete_older_than(self, moment: datetime, limit: int) -> int:
        old = sorted((e.received_at, key) for key, e in self._s.events.items() if e.received_at < moment)[:limit]
        for _, key in old:
            del self._s.events[key]
        return len(old)

    def stored_client_ids(self, site_ids: Collection[int], client_event_ids: Collection[str]) -> set[tuple[int, str]]:
        return {key for key in self._s.events if key[0] in site_ids and key[1] in client_event_ids}


class FakeInboundEvents(_Repo):
    """Rows: (the event, when processed, outcome)."""

    def add(self, site_id: int, event: TrackerEvent) -> bool:
        """What the inbox does (FakeInbox)."""
        site = self._s.sites.get(site_id)
        taken = any(
            e.site_id == site_id and e.event.client_event_id == event.client_event_id
            for e, _, _ in self._s.inbound.values()
        )
        if site is None or taken:
            return False
        event_id = next(self._s.ids)
        stored = replace(event, client_address=None)
        self._s.inbound[event_id] = (InboundEvent(event_id, site_id, site.account_id, stored), None, None)
        return True

    def lock_account(self, account_id: int) -> None:
        pass

    def pending(self, account_id: int, limit: int) -> Sequence[InboundEvent]:
        waiting = [e for e, done, _ in self._s.inbound.values() if done is None and e.account_id == account_id]
        return sorted(waiting, key=lambda e: e.id)[:limit]

    def accounts_with_pending(self, limit: int) -> Sequence[int]:
        return sorted({e.account_id for e, done, _ in self._s.inbound.values() if done is None})[:limit]

    def mark_processed(self, outcomes: dict[int, str], processed_at: datetime) -> None:
        for event_id, outcome in outcomes.items():
            event, done, _ = self._s.inbound[event_id]
            if done is None:
                self._s.inbound[event_id] = (event, processed_at, outcome)

    def note_failure(self, event_id: int, give_up_after: int, processed_at: datetime) -> None:
        event, done, _ = self._s.inbound[event_id]
        if done is None:
            event = replace(event, attempts=event.attempts + 1)
            self._s.inbound[event_id] = (event, None, None)
            if event.attempts >= give_up_after:
                self.mark_processed({event_id: "failed"}, processed_at)

    def backlog(self, limit: int) -> int:
        return min(limit, sum(1 for _, done, _ in self._s.inbound.values() if done is None))

    def delete_of_person(self, account_id: int, visitor_keys: Collection[str], emails: Collection[str]) -> int:
        gone = [
            i
            for i, (e, _, _) in self._s.inbound.items()
            if e.account_id == account_id
            and (e.event.visitor_key in visitor_keys or e.event.handoff_from in visitor_keys or e.event.email in emails)
        ]
        for event_id in gone:
            del self._s.inbound[event_id]
        return len(gone)

    def delete_processed_before(self, moment: datetime) -> int:
        old = [i for i, (_, done, _) in self._s.inbound.items() if done is not None and done < moment]
        for event_id in old:
            del self._s.inbound[event_id]
        return len(old)


class FakePurchases(_Repo):
    def get_by_platform_id(self, account_id: int, platform: str, platform_purchase_id: str) -> Purchase | None:
        return next(
            (
                _copy(p)
                for p in self._s.purchases.values()
                if (p.account_id, p.platform, p.platform_purchase_id) == (account_id, platform, platform_purchase_id)
            ),
            None,
        )

    def add(self, purchase: Purchase) -> Purchase:
        purchase.id = next(self._s.ids)
        self._s.purchases[purchase.id] = _copy(purchase)
        return purchase

    def update(self, purchase: Purchase) -> None:
        assert purchase.id in self._s.purchases
        self._s.purchases[purchase.id] = _copy(purchase)

    def get(self, purchase_id: int) -> Purchase | None:
        found = self._s.purchases.get(purchase_id)
        return _copy(found) if found else None

    def _mine(self, account_id: int) -> list[Purchase]:
        return sorted((p for p in self._s.purchases.values() if p.account_id == account_id), key=lambda p: p.id or 0)

    def involving(
        self, account_id: int, *, visitor_ids: Collection[int], keys: Collection[str], emails: Collection[str]
    ) -> Sequence[Purchase]:
        def involved(p: Purchase) -> bool:
            in_journey = any(t.visitor_id in visitor_ids for t in self._s.histories.get(p.id or 0, ()))
            return (
                p.visitor_id in visitor_ids
                or in_journey
                or p.visitor_key in keys
                or p.email in emails
                or p.recipient_email in emails
            )

        return [_copy(p) for p in self._mine(account_id) if involved(p)]

    def purchased_between(self, account_id: int, since: datetime, until: datetime) -> Sequence[Purchase]:
        found = [_copy(p) for p in self._mine(account_id) if since <= p.purchased_at <= until]
        return sorted(found, key=lambda p: (p.purchased_at, p.id or 0))

    def any_purchased_since(self, account_id: int, moment: datetime) -> bool:
        return any(p.purchased_at >= moment for p in self._mine(account_id))

    def strongly_matched_visitors(
        self, account_id: int, since: datetime, until: datetime, *, excluding: int | None = None
    ) -> set[int]:
        strong = {MatchMethod.VISITOR_ID, MatchMethod.EMAIL, MatchMethod.RECIPIENT_EMAIL}
        found: set[int] = set()
        for p in self._mine(account_id):
            if p.id != excluding and p.match_method in strong and since <= p.purchased_at <= until:
                found |= {p.visitor_id} if p.visitor_id else set()
                found |= {t.visitor_id for t in self._s.histories.get(p.id or 0, ())}
        return found

    def ids_attributed_before(self, rules_version: int, account_id: int | None = None) -> Sequence[int]:
        found = [
            p
            for p in self._s.purchases.values()
            if (account_id is None or p.account_id == account_id)
            and (p.rules_version is None or p.rules_version < rules_version)
        ]
        return [p.id or 0 for p in sorted(found, key=lambda p: (p.purchased_at, p.id or 0))]

    def credits(self, purchase_id: int) -> Sequence[Credit]:
        return list(self._s.credits.get(purchase_id, ()))

    def history(self, purchase_id: int) -> Sequence[IdentityTouch]:
        return list(self._s.histories.get(purchase_id, ()))

    def replace_history(self, purchase_id: int, history: Sequence[IdentityTouch]) -> None:
        self._s.histories[purchase_id] = list(history)

    def add_refund(self, purchase_id: int, refund: RefundRecord) -> bool:
        key = (purchase_id, refund.platform_refund_id)
        if key in self._s.refunds and self._s.refunds[key].amount.amount >= refund.amount.amount:
            return False
        self._s.refunds[key] = refund
        return True

    def replace_credits(self, purchase_id: int, credits: Sequence[Credit]) -> None:
        self._s.credits[purchase_id] = list(credits)

    def count_for_account(self, account_id: int) -> int:
        return sum(1 for p in self._s.purchases.values() if p.account_id == account_id)

    def store_buyer_details(self, purchase: Purchase) -> None:
        self.update(purchase)


class FakeOnboarding(_Repo):
    def get(self, account_id: int) -> OnboardingProgress | None:
        found = self._s.onboarding.get(account_id)
        return _copy(found) if found else None

    def save(self, progress: OnboardingProgress) -> None:
        self._s.onboarding[progress.account_id] = _copy(progress)


class FakeBilling(_Repo):
    def get(self, account_id: int, *, for_update: bool = False) -> Subscription | None:
        return self._s.subscriptions.get(account_id)

    def save(self, subscription: Subscription) -> None:
        self._s.subscriptions[subscription.account_id] = subscription

    def account_for_customer(self, customer_id: str) -> int | None:
        return next((s.account_id for s in self._s.subscriptions.values() if s.stripe_customer_id == customer_id), None)

    def trial_ends_at(self, account_id: int) -> datetime | None:
        return self._s.trial_ends_at.get(account_id)

    def record_event(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool:
        if event_id in self._s.billing_events:
            return False
        self._s.billing_events.add(event_id)
        return True

    def record_notice(self, account_id: int, kind: str, key: str, sent_at: datetime) -> bool:
        if (account_id, kind, key) in self._s.billing_notices:
            return False
        self._s.billing_notices.add((account_id, kind, key))
        return True

    def accounts_with_trial_ending(self, after: datetime, until: datetime) -> list[int]:
        return sorted(account for account, ends in self._s.trial_ends_at.items() if after < ends <= until)


class FakeConnections(_Repo):
    def record_attempt(self, account_id: int, platform: str, attempted_at: datetime, error: str | None) -> None:
        self._s.connection_attempts.append((account_id, platform, attempted_at, error))

    def add(self, connection: Connection) -> Connection:
        connection.id = next(self._s.ids)
        self._s.connections[connection.id] = _copy(connection)
        return connection

    def get(self, connection_id: int) -> Connection | None:
        found = self._s.connections.get(connection_id)
        return _copy(found) if found else None

    def update(self, connection: Connection) -> None:
        assert connection.id in self._s.connections
        self._s.connections[connection.id] = _copy(connection)

    def record_sync_progress(self, connection_id: int, progress: SyncState) -> bool:
        stored = self._s.connections[connection_id]
        if stored.status is not ConnectionStatus.SYNCING or stored.sync.started_at != progress.started_at:
            return False
        self._s.connections[connection_id] = replace(stored, sync=replace(progress))
        return True

    def claim_sync(self, connection_id: int, started_at: datetime, now: datetime, stale_before: datetime) -> bool:
        stored = self._s.connections[connection_id]
        heartbeat = stored.sync.heartbeat_at
        if stored.status is not ConnectionStatus.SYNCING or stored.sync.started_at != started_at:
            return False
        if heartbeat is not None and heartbeat >= stale_before:
            return False
        self._s.connections[connection_id] = replace(stored, sync=replace(stored.sync, heartbeat_at=now))
        return True

    def list_for_account(self, account_id: int) -> Sequence[Connection]:
        return [_copy(c) for c in self._s.connections.values() if c.account_id == account_id]

    def live(self) -> Sequence[Connection]:
        return [_copy(c) for c in self._s.connections.values() if c.is_live]

    def with_credentials(self) -> Sequence[Connection]:
        return [_copy(c) for c in self._s.connections.values() if c.sealed_credentials is not None]


class FakeWebhookDeliveries(_Repo):
    def add(self, delivery: StoredDelivery) -> StoredDelivery | None:
        if any(
            (d.connection_id, d.event_id) == (delivery.connection_id, delivery.event_id)
            for d in self._s.deliveries.values()
        ):
            return None
        stored = replace(delivery, id=next(self._s.ids))
        assert stored.id is not None
        self._s.deliveries[stored.id] = stored
        return stored

    def get(self, delivery_id: int) -> StoredDelivery | None:
        return self._s.deliveries.get(delivery_id)

    def mark_processed(self, delivery_id: int, processed_at: datetime, outcome: str) -> bool:
        stored = self._s.deliveries[delivery_id]
        if stored.processed_at is not None:
            return False
        self._s.deliveries[delivery_id] = replace(stored, processed_at=processed_at, outcome=outcome, failed_at=None)
        return True

    def record_attempt(self, delivery: StoredDelivery) -> None:
        assert delivery.id is not None
        self._s.deliveries[delivery.id] = replace(
            self._s.deliveries[delivery.id],
            attempts=delivery.attempts,
            last_attempt_at=delivery.last_attempt_at,
            last_error=delivery.last_error,
            failed_at=delivery.failed_at,
        )

    def unfinished(self, connection_id: int, limit: int) -> Sequence[StoredDelivery]:
        found = [
            d
            for d in self._s.deliveries.values()
            if d.connection_id == connection_id and d.processed_at is None and d.attempts > 0
        ]
        return sorted(found, key=lambda d: (d.received_at, d.id or 0), reverse=True)[:limit]

    def stalled(self, before: datetime, limit: int) -> Sequence[StoredDelivery]:
        found = [
            d
            for d in self._s.deliveries.values()
            if d.processed_at is None and d.failed_at is None and (d.last_attempt_at or d.received_at) < before
        ]
        return sorted(found, key=lambda d: d.id or 0)[:limit]

    def mentioning(self, account_id: int, needles: Collection[str], ids: Collection[str]) -> Sequence[int]:
        return [
            delivery_id
            for delivery_id, delivery in sorted(self._s.deliveries.items())
            if self._s.connections[delivery.connection_id].account_id == account_id
            and mentions(delivery.body, needles, ids)
        ]

    def redact(self, delivery_ids: Collection[int], needles: Collection[str], replacement: str) -> int:
        for delivery_id in delivery_ids:
            delivery = self._s.deliveries[delivery_id]
            self._s.deliveries[delivery_id] = replace(
                delivery, body=erase_from_body(delivery.body, needles, replacement)
            )
        return len(delivery_ids)


class ReversibleCipher:
    """Stands in for the Fernet cipher: what it stores is not the plaintext, and a key id says which key."""

    def __init__(self, key: str = "k1") -> None:
        self.key = key

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.key.encode() + b":" + bytes(reversed(plaintext))

    def decrypt(self, ciphertext: bytes) -> bytes:
        _, _, body = ciphertext.partition(b":")
        return bytes(reversed(body))

    def rotate(self, ciphertext: bytes) -> bytes:
        return self.encrypt(self.decrypt(ciphertext))


class FakeUnitOfWork:
    """Changes go to a working copy of the store and replace it only on commit, like a transaction."""

    def __init__(self, store: Store) -> None:
        self._committed = store
        self.committed = False

    def __enter__(self) -> Self:
        self._working = _snapshot(self._committed)
        self.accounts = FakeAccounts(self._working)
        self.api_tokens = FakeApiTokens(self._working)
        self.sites = FakeSites(self._working)
        self.visitors = FakeVisitors(self._working)
        self.sessions = FakeSessions(self._working)
        self.events = FakeEvents(self._working)
        self.inbound_events = FakeInboundEvents(self._working)
        self.purchases = FakePurchases(self._working)
        self.onboarding = FakeOnboarding(self._working)
        self.billing = FakeBilling(self._working)
        self.connections = FakeConnections(self._working)
        self.webhook_deliveries = FakeWebhookDeliveries(self._working)
        self.identities = FakeIdentities(self._working)
        self.attribution_settings = FakeAttributionSettings(self._working)
        self.display_settings = FakeDisplaySettings(self._working)
        self.fingerprint_salts = FakeFingerprintSalts(self._working)
        self.source_rules = FakeSourceRules(self._working)
        self.bot_visits = FakeBotVisits(self._working)
        self.beta = FakeBeta(self._working)
        self.feature_usage = FakeFeatureUsage(self._working)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        for name in Store.__dataclass_fields__:
            setattr(self._committed, name, getattr(self._working, name))
        self._working = _snapshot(self._committed)
        self._rebind()
        self.committed = True

    def rollback(self) -> None:
        self._working = _snapshot(self._committed)
        self._rebind()

    def _rebind(self) -> None:
        for repo in (
            self.accounts,
            self.api_tokens,
            self.sites,
            self.visitors,
            self.sessions,
            self.events,
            self.inbound_events,
            self.purchases,
            self.onboarding,
            self.billing,
            self.connections,
            self.webhook_deliveries,
            self.identities,
            self.attribution_settings,
            self.display_settings,
            self.fingerprint_salts,
            self.source_rules,
            self.bot_visits,
            self.beta,
            self.feature_usage,
        ):
            repo._s = self._working


def _snapshot(store: Store) -> Store:
    return Store(
        accounts={k: _copy(v) for k, v in store.accounts.items()},
        tokens=dict(store.tokens),
        sites={k: _copy(v) for k, v in store.sites.items()},
        visitors={k: _copy(v) for k, v in store.visitors.items()},
        sessions={k: _copy(v) for k, v in store.sessions.items()},
        events=dict(store.events),
        inbound=dict(store.inbound),
        purchases={k: _copy(v) for k, v in store.purchases.items()},
        refunds=dict(store.refunds),
        credits={k: list(v) for k, v in store.credits.items()},
        onboarding={k: _copy(v) for k, v in store.onboarding.items()},
        subscriptions=dict(store.subscriptions),
        trial_ends_at=dict(store.trial_ends_at),
        billing_events=set(store.billing_events),
        billing_notices=set(store.billing_notices),
        connections={k: _copy(v) for k, v in store.connections.items()},
        connection_attempts=list(store.connection_attempts),
        deliveries=dict(store.deliveries),
        histories={k: list(v) for k, v in store.histories.items()},
        claims=dict(store.claims),
        handoffs=dict(store.handoffs),
        reaches=list(store.reaches),
        lookbacks=dict(store.lookbacks),
        display=dict(store.display),
        salts=dict(store.salts),
        source_rules={k: list(v) for k, v in store.source_rules.items()},
        bot_visits=dict(store.bot_visits),
        beta_members={k: _copy(v) for k, v in store.beta_members.items()},
        setup_help=dict(store.setup_help),
        feedback=list(store.feedback),
        feature_usage=dict(store.feature_usage),
        ids=store.ids,
    )


class FakeInbox:
    """The collect endpoint's inbox over the fake store: each event stored in its own transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def store(self, site_id: int, event: TrackerEvent) -> bool:
        with FakeUnitOfWork(self._store) as uow:
            stored = uow.inbound_events.add(site_id, event)
            uow.commit()
        return stored


class FakePasswordHasher:
    """Readable "hashes" that remember their parameters' version, so rehashing can be seen."""

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.verifications = 0

    def hash(self, password: str) -> str:
        return f"fake-v{self.version}${password[::-1]}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return password_hash.partition("$")[2] == password[::-1]

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake-v{self.version}$")


class FakeSignedTokens:
    """Unsigned but purpose-bound, timestamped tokens: enough to test expiry, purpose and tampering."""

    def __init__(self, clock: FixedClock) -> None:
        self._clock = clock

    def issue(self, purpose: str, payload: Mapping[str, str | int]) -> str:
        return json.dumps({"purpose": purpose, "at": self._clock.now().timestamp(), "payload": dict(payload)})

    def read(self, purpose: str, token: str, max_age_seconds: int) -> dict[str, str | int]:
        try:
            data = json.loads(token)
        except ValueError:
            raise BadToken(purpose) from None
        if not isinstance(data, dict) or data.get("purpose") != purpose:
            raise BadToken(purpose)
        if self._clock.now().timestamp() - data["at"] > max_age_seconds:
            raise ExpiredToken(purpose)
        payload: dict[str, str | int] = data["payload"]
        return payload


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> None:
        self.sent.append(mail)

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.sent if m.to == address]


class FakeLinks:
    """Links whose last segment is the token, so a test can take it back out of the mail."""

    def verify_email(self, token: str) -> str:
        return f"https://app.test/verify/{token}"

    def reset_password(self, token: str) -> str:
        return f"https://app.test/reset/{token}"

    def confirm_email_change(self, token: str) -> str:
        return f"https://app.test/account/email/{token}"

    def login(self) -> str:
        return "https://app.test/login"

    def forgot_password(self) -> str:
        return "https://app.test/reset"


class FakeBillingGateway:
    """An in-memory Stripe: records what the service asks for; events are made by the test."""

    def __init__(self) -> None:
        self.customers: dict[str, tuple[int, str]] = {}
        self.checkouts: list[CheckoutRequest] = []
        self.portals: list[tuple[str, str]] = []
        self.subscriptions: dict[str, SubscriptionSnapshot] = {}
        self.signed: dict[str, BillingEvent] = {}
        self.cancelled: list[str] = []
        self.open_checkouts: dict[str, str] = {}  # customer -> URL of an open Checkout Session
        self.paid: dict[str, Money] = {}  # subscription -> what was charged on it
        self.refunded: list[tuple[str, Money]] = []
        self.unavailable = False

    def _check(self) -> None:
        if self.unavailable:
            raise BillingUnavailable("Stripe did not answer; please try again in a minute.")

    def create_customer(self, account_id: int, email: str) -> str:
        self._check()
        customer_id = f"cus_{len(self.customers) + 1}"
        self.customers[customer_id] = (account_id, email)
        return customer_id

    def create_checkout_session(self, request: CheckoutRequest) -> str:
        self._check()
        self.checkouts.append(request)
        url = f"https://checkout.stripe.test/c/{len(self.checkouts)}"
        if request.customer_id is not None:
            self.open_checkouts[request.customer_id] = url
        return url

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        self._check()
        self.portals.append((customer_id, return_url))
        return f"https://billing.stripe.test/p/{customer_id}"

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        self._check()
        return self.subscriptions[subscription_id]

    def cancel_subscription(self, subscription_id: str) -> None:
        self._check()
        self.cancelled.append(subscription_id)
        if subscription_id in self.subscriptions:
            self.subscriptions[subscription_id] = replace(self.subscriptions[subscription_id], status="canceled")

    def customer_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        self._check()
        live = [
            s
            for s in self.subscriptions.values()
            if s.customer_id == customer_id and s.status not in NEVER_CHARGES_AGAIN
        ]
        return sorted(live, key=lambda s: (s.created or datetime.min.replace(tzinfo=UTC), s.subscription_id))

    def open_checkout_url(self, customer_id: str) -> str | None:
        self._check()
        return self.open_checkouts.get(customer_id)

    def expire_open_checkouts(self, customer_id: str) -> int:
        self._check()
        return 1 if self.open_checkouts.pop(customer_id, None) else 0

    def refund_subscription_payments(self, subscription_id: str) -> Money | None:
        self._check()
        amount = self.paid.pop(subscription_id, None)
        if amount is not None:
            self.refunded.append((subscription_id, amount))
        return amount

    def sign(self, event: BillingEvent) -> tuple[bytes, str]:
        """A delivery of `event`: the payload and the only signature header this fake accepts for it."""
        self.signed[event.event_id] = event
        return event.event_id.encode(), f"signed:{event.event_id}"

    def read_event(self, payload: bytes, signature_header: str | None) -> BillingEvent:
        event = self.signed.get(payload.decode())
        if event is None or signature_header != f"signed:{event.event_id}":
            raise ForgedBillingEvent("bad signature")
        return event


class RecordingBillingNotifier:
    def __init__(self) -> None:
        self.notices: list[BillingNotice] = []
        self.reports: list[DuplicateSubscriptionReport] = []
        self.fail = False

    def duplicate_subscription(self, report: DuplicateSubscriptionReport) -> None:
        self.reports.append(report)

    def notify(self, notice: BillingNotice) -> None:
        if self.fail:
            raise ConnectionError("mail server down")
        self.notices.append(notice)


class FakePersonalDataReader:
    """The read side of data subject requests, over the fake store: rows as plain dicts by table."""

    def __init__(self, store: Store) -> None:
        self._s = store

    def person_rows(
        self,
        account_id: int,
        visitor_ids: Collection[int],
        purchase_ids: Collection[int],
        delivery_ids: Collection[int] = (),
    ) -> dict[str, list[dict[str, object]]]:
        s = self._s
        visitors = [v for i, v in s.visitors.items() if i in visitor_ids]
        keys = {(v.site_id, v.key) for v in visitors}
        return {
            "visitors": [{"id": v.id, "visitor_key": v.key, "email": v.email} for v in visitors],
            "sessions": [
                {"id": i, "visitor_id": x.visitor_id, "source": x.touch.source}
                for i, x in s.sessions.items()
                if x.visitor_id in visitor_ids
            ],
            "events": [
                {"client_event_id": e.client_event_id, "url": e.url, "kind": e.kind.value}
                for (site_id, _), e in s.events.items()
                if (site_id, e.visitor_key) in keys
            ],
            "visitor_emails": [
                {"visitor_id": c.visitor_id, "email": c.email}
                for _, c in s.claims.values()
                if c.visitor_id in visitor_ids
            ],
            "purchases": [
                {"id": p.id, "email": p.email, "amount": p.amount.amount, "status": p.status.value}
                for i, p in s.purchases.items()
                if i in purchase_ids
            ],
            "webhook_deliveries": [
                {"id": i, "body": d.body.decode(errors="replace")} for i, d in s.deliveries.items() if i in delivery_ids
            ],
        }

    def account_rows(self, account_id: int) -> dict[str, list[dict[str, object]]]:
        s = self._s
        return {
            "sites": [{"id": x.id, "public_key": x.public_key} for x in s.sites.values() if x.account_id == account_id],
            "platform_integrations": [
                {"id": c.id, "platform": c.platform} for c in s.connections.values() if c.account_id == account_id
            ],
            "purchases": [
                {"id": p.id, "email": p.email, "amount": p.amount.amount}
                for p in s.purchases.values()
                if p.account_id == account_id
            ],
        }

    def tracking_counts(self, account_id: int) -> dict[str, int]:
        s = self._s
        mine = {i for i, site in s.sites.items() if site.account_id == account_id}
        return {"visitors": sum(1 for v in s.visitors.values() if v.site_id in mine)}
