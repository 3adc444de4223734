"""Attribution models: which touch gets the credit for a purchase."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.domain.purchases import MatchMethod, Purchase
from core.domain.touches import Touch
from core.domain.visitors import Visitor

# Bump when a rule below changes, so stored results can be recomputed over history.
RULES_VERSION = 1


class Model(StrEnum):
    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"


@dataclass(frozen=True, slots=True)
class Credit:
    """The touch a model credits with one purchase."""

    model: Model
    touch: Touch
    rules_version: int = RULES_VERSION


def credited_touch(model: Model, touches: Iterable[Touch], purchased_at: datetime) -> Touch | None:
    """First touch: the earliest touch. Last touch: the last non-direct one, Direct only when there was
    nothing else. Only touches up to the purchase count."""
    before = sorted((t for t in touches if t.occurred_at <= purchased_at), key=lambda t: t.occurred_at)
    if not before:
        return None
    if model is Model.FIRST_TOUCH:
        return before[0]
    non_direct = [t for t in before if not t.is_direct]
    return (non_direct or before)[-1]


def credits_for(touches: Sequence[Touch], purchased_at: datetime) -> list[Credit]:
    credits = []
    for model in Model:
        touch = credited_touch(model, touches, purchased_at)
        if touch is not None:
            credits.append(Credit(model, touch))
    return credits


def choose_visitor(
    purchase: Purchase, carried: Visitor | None, same_email: Sequence[Visitor]
) -> tuple[Visitor, MatchMethod] | None:
    """The visitor a purchase belongs to: the id carried into the purchase, else the buyer's email.

    Among several browsers that identified with the buyer's email (phone and laptop), the one seen first
    before the purchase wins, so first touch is the journey's real start.
    """
    if carried is not None:
        return carried, MatchMethod.VISITOR_ID
    seen_before = [v for v in same_email if v.first_seen_at <= purchase.purchased_at]
    if not seen_before:
        return None
    return min(seen_before, key=lambda v: (v.first_seen_at, v.id or 0)), MatchMethod.EMAIL
