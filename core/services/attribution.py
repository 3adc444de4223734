"""Matching purchases to visitors and storing which touches get the credit."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.attribution import choose_visitor, credits_for
from core.domain.purchases import Purchase
from core.ports.uow import UnitOfWork


def attribute_purchase(uow: UnitOfWork, purchase: Purchase) -> None:
    """Match one stored purchase and replace its credits, inside the caller's transaction."""
    assert purchase.id is not None
    carried = uow.visitors.with_key(purchase.account_id, purchase.visitor_key) if purchase.visitor_key else None
    same_email = uow.visitors.with_email(purchase.account_id, purchase.email) if purchase.email else ()
    choice = choose_visitor(purchase, carried, same_email)
    credits = []
    if choice is not None:
        visitor, method = choice
        assert visitor.id is not None
        credits = credits_for(uow.sessions.touches(visitor.id), purchase.purchased_at)
        if credits:
            purchase.match(visitor.id, method)
    if not credits:
        purchase.unmatch()
    uow.purchases.update(purchase)
    uow.purchases.replace_credits(purchase.id, credits)


class Attribution:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    def attribute_purchases_of_email(self, account_id: int, email: str) -> int:
        """A visitor just told us their email: match the unmatched purchases made with it. Returns how many."""
        with self._uow() as uow:
            matched = 0
            for purchase in uow.purchases.unmatched_with_email(account_id, email):
                attribute_purchase(uow, purchase)
                matched += purchase.visitor_id is not None
            uow.commit()
        return matched
