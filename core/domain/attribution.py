"""Attribution models: which touch gets the credit for a purchase, and how a purchase finds its buyer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.identities import IdentityTouch
from core.domain.purchases import MatchMethod
from core.domain.touches import Touch

# Bump when a rule below (or in identities or checkout) changes, so stored results can be recomputed
# over history with `coursesignal reattribute`.
RULES_VERSION = 6

DEFAULT_LOOKBACK = timedelta(days=90)
MIN_LOOKBACK_DAYS = 1
MAX_LOOKBACK_DAYS = 730

# The order the matching rules are tried in: the first that finds a buyer with visits wins.
MATCH_ORDER = (MatchMethod.VISITOR_ID, MatchMethod.EMAIL, MatchMethod.RECIPIENT_EMAIL, MatchMethod.FINGERPRINT)


class Model(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"


@dataclass(frozen=True, slots=True)
class Credit:
    """The touch a model credits with one purchase."""

    model: Model
    touch: Touch
    rules_version: int = RULES_VERSION


@dataclass(frozen=True, slots=True)
class AttributionResult:
    """What a purchase is credited to: one credit per model and the journey behind it, oldest first."""

    credits: tuple[Credit, ...]
    history: tuple[IdentityTouch, ...]


def touches_that_count(touches: Iterable[Touch], purchased_at: datetime, lookback: timedelta) -> list[Touch]:
    """Touches inside the lookback window and not after the purchase, oldest first."""
    since = purchased_at - lookback
    return sorted((t for t in touches if since <= t.occurred_at <= purchased_at), key=_touch_order)


def _touch_order(touch: Touch) -> tuple[datetime, str, str, str]:
    # Ties in time are broken by content, so the result never depends on the order touches were stored in.
    return (touch.occurred_at, touch.source, touch.channel.value, touch.landing_page or "")


def credited_touch(
    model: Model, touches: Iterable[Touch], purchased_at: datetime, lookback: timedelta = DEFAULT_LOOKBACK
) -> Touch | None:
    """First touch: the earliest touch. Last touch: the last non-direct one, Direct only when there was
    nothing else. Only touches inside the lookback window and up to the purchase count."""
    before = touches_that_count(touches, purchased_at, lookback)
    if not before:
        return None
    if model is Model.FIRST_TOUCH:
        return before[0]
    non_direct = [t for t in before if not t.is_direct]
    return (non_direct or before)[-1]


def credits_for(
    touches: Sequence[Touch], purchased_at: datetime, lookback: timedelta = DEFAULT_LOOKBACK
) -> list[Credit]:
    credits = []
    for model in Model:
        touch = credited_touch(model, touches, purchased_at, lookback)
        if touch is not None:
            credits.append(Credit(model, touch))
    return credits


def attribute(
    journey: Iterable[IdentityTouch], purchased_at: datetime, lookback: timedelta = DEFAULT_LOOKBACK
) -> AttributionResult | None:
    """Credit an identity's touches to a purchase; None when no touch counts (nothing to credit)."""
    since = purchased_at - lookback
    history = sorted(
        (t for t in journey if since <= t.touch.occurred_at <= purchased_at),
        key=lambda t: (*_touch_order(t.touch), t.visitor_id),
    )
    if not history:
        return None
    credits = credits_for([t.touch for t in history], purchased_at, lookback)
    return AttributionResult(credits=tuple(credits), history=tuple(history))


def lookback_from_days(days: int) -> timedelta:
    if not MIN_LOOKBACK_DAYS <= days <= MAX_LOOKBACK_DAYS:
        raise ValueError(f"the lookback window is between {MIN_LOOKBACK_DAYS} and {MAX_LOOKBACK_DAYS} days")
    return timedelta(days=days)
