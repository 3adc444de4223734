"""The unit of work and the repositories it opens: one transaction per use case."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from core.domain.attribution import Credit
from core.domain.checkout import CheckoutReach
from core.domain.connections import Connection, StoredDelivery, SyncState
from core.domain.display import DisplaySettings
from core.domain.events import InboundEvent, TrackerEvent
from core.domain.identities import EmailClaim, Handoff, IdentityTouch
from core.domain.onboarding import OnboardingProgress
from core.domain.purchases import Purchase, RefundRecord
from core.domain.sites import Account, Site
from core.domain.source_rules import SourceRule
from core.domain.touches import Touch
from core.domain.visitors import Session, Visitor
from core.ports.beta import BetaRepository, FeatureUsageRepository
from core.ports.billing import BillingRepository


class AccountRepository(Protocol):
    def add(self, account: Account) -> Account: ...
    def get(self, account_id: int) -> Account | None: ...
    def get_by_email(self, email: str) -> Account | None: ...
    def update(self, account: Account) -> None:
        """Store the account's email, password hash, verification, trial end and session version."""
        ...

    def update_if_password_is(self, account: Account, password_hash: str | None) -> bool:
        """`update`, only while the stored password hash is still `password_hash`: False (nothing stored)
        when another request changed the password meanwhile."""
        ...

    def delete(self, account_id: int) -> None:
        """Delete the account and everything it owns."""
        ...


class ApiTokenRepository(Protocol):
    def add(self, account_id: int, token_hash: str, name: str, created_at: datetime) -> None: ...
    def account_id_for(self, token_hash: str, used_at: datetime) -> int | None:
        """The owner of a token (and notes its use), or None for an unknown token."""
        ...


class SiteRepository(Protocol):
    def add(self, site: Site) -> Site: ...
    def get_by_key(self, public_key: str) -> Site | None: ...
    def list_for_account(self, account_id: int) -> Sequence[Site]: ...
    def get_for_account(self, account_id: int, site_id: int) -> Site | None:
        """The site when it belongs to the account; None otherwise, exactly as for a missing site."""
        ...

    def has_events(self, site_id: int) -> bool: ...
    def update_settings(self, site: Site) -> None:
        """Store the site's domains and whether it respects Global Privacy Control."""
        ...


class VisitorRepository(Protocol):
    def get_by_key(self, site_id: int, key: str) -> Visitor | None: ...
    def get(self, visitor_id: int) -> Visitor | None: ...
    def get_or_add(self, visitor: Visitor) -> tuple[Visitor, bool]:
        """The stored visitor with this site and key, adding `visitor` when there is none yet, and whether it
        was added. The row is locked until the transaction ends, so concurrent events of one visitor never
        overwrite each other."""
        ...

    def update(self, visitor: Visitor) -> None: ...
    def with_email(self, account_id: int, email: str) -> Sequence[Visitor]: ...
    def with_key(self, account_id: int, key: str) -> Visitor | None:
        """The visitor with a tracker id on any of the account's sites."""
        ...

    def keys(self, visitor_ids: Collection[int]) -> dict[int, str]:
        """Tracker ids by visitor id."""
        ...

    def delete(self, visitor_id: int) -> None:
        """Erase a visitor with everything recorded about it: sessions, events, identities, reaches, its
        part of the visitor counts; purchases lose the link."""
        ...


class IdentityRepository(Protocol):
    """The facts identities are computed from: email claims, cross-domain hand-offs, checkout reaches."""

    def add_claim(self, account_id: int, claim: EmailClaim) -> bool:
        """Store a claim once: False when this visitor already claimed this email at this moment."""
        ...

    def claims_of(self, visitor_ids: Collection[int]) -> Sequence[EmailClaim]: ...
    def claims_with_email(self, account_id: int, emails: Collection[str]) -> Sequence[EmailClaim]: ...
    def add_handoff(self, account_id: int, handoff: Handoff) -> bool: ...
    def handoffs_of(self, visitor_ids: Collection[int]) -> Sequence[Handoff]:
        """Hand-offs from or to any of the visitors."""
        ...

    def add_checkout_reach(self, account_id: int, reach: CheckoutReach) -> None: ...
    def checkout_reaches(self, account_id: int, since: datetime, until: datetime) -> Sequence[CheckoutReach]: ...
    def checkout_reaches_of(self, visitor_ids: Collection[int]) -> Sequence[CheckoutReach]: ...
    def has_facts(self, visitor_id: int) -> bool:
        """Whether the visitor has claimed an email, been handed off or reached checkout."""
        ...


class AttributionSettingsRepository(Protocol):
    def lookback(self, account_id: int) -> timedelta:
        """The account's lookback window; the default when the creator never set one."""
        ...

    def set_lookback(self, account_id: int, lookback: timedelta) -> None: ...


class DisplaySettingsRepository(Protocol):
    def get(self, account_id: int) -> DisplaySettings:
        """The account's locale, time zone and report currency; the defaults when the creator never chose."""
        ...

    def set(self, account_id: int, settings: DisplaySettings) -> None: ...


class FingerprintSaltRepository(Protocol):
    def for_day(self, day: datetime) -> bytes | None: ...
    def add(self, day: datetime, salt: bytes) -> None:
        """Store a day's salt unless one is already stored (two processes racing keep the first)."""
        ...

    def delete_older_than(self, moment: datetime) -> int: ...


class SourceRuleRepository(Protocol):
    def for_account(self, account_id: int) -> list[SourceRule]: ...
    def replace(self, account_id: int, rules: Sequence[SourceRule]) -> None:
        """Store exactly these rules for the account."""
        ...


class SessionRepository(Protocol):
    def latest(self, visitor_id: int) -> Session | None: ...
    def add(self, session: Session) -> Session: ...
    def touch_seen(self, session: Session) -> None:
        """Store a later `last_seen_at` for an existing session."""
        ...

    def touches(self, visitor_id: int) -> Sequence[Touch]: ...
    def touches_of(self, visitor_ids: Collection[int]) -> dict[int, list[Touch]]: ...


class EventRepository(Protocol):
    def add(self, event: TrackerEvent, site_id: int, visitor_id: int, session_id: int | None) -> bool:
        """Store an event once: False when this client event id is already stored for the site."""
        ...

    def delete_older_than(self, moment: datetime, limit: int) -> int:
        """Delete at most `limit` raw events that occurred before `moment` (retention); returns how many."""
        ...

    def stored_client_ids(self, site_ids: Collection[int], client_event_ids: Collection[str]) -> set[tuple[int, str]]:
        """Which of these (site id, client event id) pairs are stored already."""
        ...


class BotVisitRepository(Protocol):
    def add(self, site_id: int, day: date) -> None:
        """Count one dropped bot visit to the site on the (UTC) day."""
        ...


class InboundEventRepository(Protocol):
    """Accepted tracker events waiting for the ingestion pipeline; the collect endpoint stores them through the
    Inbox (core/ports/inbox.py)."""

    def lock_account(self, account_id: int) -> None:
        """The account's ingestion lock, held until the transaction ends: processing its tracker events,
        storing its purchases and attributing them again take turns."""
        ...

    def pending(self, account_id: int, limit: int) -> Sequence[InboundEvent]:
        """The account's unprocessed events in the order they were accepted."""
        ...

    def accounts_with_pending(self, limit: int) -> Sequence[int]: ...
    def mark_processed(self, outcomes: dict[int, str], processed_at: datetime) -> None:
        """Mark events done, each with its outcome ("stored" or a drop reason)."""
        ...

    def note_failure(self, event_id: int, give_up_after: int, processed_at: datetime) -> None:
        """Count a failed attempt; after `give_up_after` attempts the event is marked done as "failed"."""
        ...

    def backlog(self, limit: int) -> int:
        """How many events wait (counted up to `limit`)."""
        ...

    def delete_of_person(self, account_id: int, visitor_keys: Collection[str], emails: Collection[str]) -> int:
        """Erasure: delete the account's accepted events (waiting or done) sent by, handed over from, or naming
        these visitor keys or emails; returns how many."""
        ...

    def delete_processed_before(self, moment: datetime) -> int: ...


class PurchaseRepository(Protocol):
    def get_by_platform_id(self, account_id: int, platform: str, platform_purchase_id: str) -> Purchase | None: ...
    def add(self, purchase: Purchase) -> Purchase: ...
    def update(self, purchase: Purchase) -> None: ...
    def get(self, purchase_id: int) -> Purchase | None: ...
    def involving(
        self, account_id: int, *, visitor_ids: Collection[int], keys: Collection[str], emails: Collection[str]
    ) -> Sequence[Purchase]:
        """Purchases carrying one of the keys, made or received by one of the emails, or matched to or
        crediting one of the visitors."""
        ...

    def purchased_between(self, account_id: int, since: datetime, until: datetime) -> Sequence[Purchase]: ...
    def any_purchased_since(self, account_id: int, moment: datetime) -> bool: ...
    def strongly_matched_visitors(
        self, account_id: int, since: datetime, until: datetime, *, excluding: int | None = None
    ) -> set[int]:
        """Visitors in the journeys of purchases in [since, until] matched by id or email (not timing)."""
        ...

    def ids_attributed_before(self, rules_version: int, account_id: int | None = None) -> Sequence[int]:
        """Purchases last attributed with older rules (or never), oldest first."""
        ...

    def credits(self, purchase_id: int) -> Sequence[Credit]: ...
    def history(self, purchase_id: int) -> Sequence[IdentityTouch]: ...
    def replace_history(self, purchase_id: int, history: Sequence[IdentityTouch]) -> None: ...
    def add_refund(self, purchase_id: int, refund: RefundRecord) -> bool:
        """Store a refund once: False when this platform refund id is already stored with this amount or
        more. A platform refund id that comes again with a larger amount is a running total that grew (a
        second partial refund): the stored amount is raised to it, and that counts as stored (True)."""
        ...

    def replace_credits(self, purchase_id: int, credits: Sequence[Credit]) -> None: ...
    def count_for_account(self, account_id: int) -> int: ...
    def store_buyer_details(self, purchase: Purchase) -> None:
        """Store the purchase's buyer fields (email, recipient, visitor id and key, referrer hint) and its
        match, as an erasure leaves them."""
        ...


class OnboardingRepository(Protocol):
    def get(self, account_id: int) -> OnboardingProgress | None: ...
    def save(self, progress: OnboardingProgress) -> None:
        """Insert or replace the account's progress."""
        ...


class ConnectionRepository(Protocol):
    def add(self, connection: Connection) -> Connection: ...
    def record_attempt(self, account_id: int, platform: str, attempted_at: datetime, error: str | None) -> None:
        """Remember one try at connecting a platform: `error` is what the creator was told (None: it worked)."""
        ...

    def get(self, connection_id: int) -> Connection | None: ...
    def update(self, connection: Connection) -> None: ...
    def record_sync_progress(self, connection_id: int, progress: SyncState) -> bool:
        """Store how far a running sync got (its checkpoint), without touching anything else; False, and
        nothing stored, when that run is over: the connection is no longer syncing, or a reconnect started
        another run (a different `started_at`)."""
        ...

    def claim_sync(self, connection_id: int, started_at: datetime, now: datetime, stale_before: datetime) -> bool:
        """Mark the syncing run started at `started_at` alive at `now`, unless its heartbeat is newer than
        `stale_before` (another worker is running it): True when this caller may run it."""
        ...

    def list_for_account(self, account_id: int) -> Sequence[Connection]: ...
    def live(self) -> Sequence[Connection]:
        """Every connection that receives webhooks and is polled (syncing or connected)."""
        ...

    def with_credentials(self) -> Sequence[Connection]:
        """Every connection holding encrypted credentials (for key rotation)."""
        ...


class WebhookDeliveryRepository(Protocol):
    def add(self, delivery: StoredDelivery) -> StoredDelivery | None:
        """Store a delivery once: None when this event id is already stored for the connection."""
        ...

    def get(self, delivery_id: int) -> StoredDelivery | None: ...
    def mark_processed(self, delivery_id: int, processed_at: datetime, outcome: str) -> bool:
        """Mark the delivery processed; False (and nothing changed) when it already was."""
        ...

    def record_attempt(self, delivery: StoredDelivery) -> None:
        """Store the delivery's attempts, last attempt, last error and failure time as given."""
        ...

    def unfinished(self, connection_id: int, limit: int) -> Sequence[StoredDelivery]:
        """Deliveries not processed after at least one attempt (failed or being retried), newest first."""
        ...

    def stalled(self, before: datetime, limit: int) -> Sequence[StoredDelivery]:
        """Unprocessed, not failed deliveries whose last attempt (or arrival) is older than `before`:
        their job was lost (a restart of the embedded default) or died with its worker."""
        ...

    def mentioning(self, account_id: int, needles: Collection[str], ids: Collection[str]) -> Sequence[int]:
        """The account's deliveries naming a person (core/domain/delivery_privacy.py `mentions`): a value
        holding one of `needles` in any letter case, or exactly one of `ids`."""
        ...

    def redact(self, delivery_ids: Collection[int], needles: Collection[str], replacement: str) -> int:
        """Erase the person from these deliveries (`erase_from_body`: personal values and every mention of
        the needles become `replacement`); returns how many deliveries changed."""
        ...


class UnitOfWork(Protocol):
    accounts: AccountRepository
    api_tokens: ApiTokenRepository
    sites: SiteRepository
    visitors: VisitorRepository
    sessions: SessionRepository
    events: EventRepository
    inbound_events: InboundEventRepository
    purchases: PurchaseRepository
    onboarding: OnboardingRepository
    billing: BillingRepository
    connections: ConnectionRepository
    webhook_deliveries: WebhookDeliveryRepository
    identities: IdentityRepository
    attribution_settings: AttributionSettingsRepository
    display_settings: DisplaySettingsRepository
    fingerprint_salts: FingerprintSaltRepository
    source_rules: SourceRuleRepository
    bot_visits: BotVisitRepository
    beta: BetaRepository
    feature_usage: FeatureUsageRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
