"""A faithful local fake of Kajabi's Public API (https://api.kajabi.com, API v1.1.0).

Built from the facts in /work/shared/research/platforms.md §1 (Kajabi's OpenAPI spec and developer
docs). Standard library only. Typical use::

    from tests.fakes.kajabi import FakeKajabi

    with FakeKajabi() as kajabi:
        offer = kajabi.add_offer("Course Launch Blueprint", 49_700, "USD")
        buyer = kajabi.add_customer("ava@example.com", "Ava Johnson")
        purchase = kajabi.add_purchase(buyer, offer, referrer="https://www.youtube.com/")
        app.connect(kajabi.base_url, kajabi.client_id, kajabi.client_secret)
        kajabi.deliver("purchase", purchase)

Run standalone: ``python -m tests.fakes.kajabi --port 8765 --seed 200``.
"""

from .auth import ALL_SCOPES, ApiKey
from .fake import DELIVERABLE_EVENTS, Delivery, FakeKajabi, LoggedRequest
from .models import Customer, Hook, Offer, Purchase, Site, Transaction
from .store import HOOK_EVENT_SCOPES

__all__ = [
    "ALL_SCOPES",
    "DELIVERABLE_EVENTS",
    "HOOK_EVENT_SCOPES",
    "ApiKey",
    "Customer",
    "Delivery",
    "FakeKajabi",
    "Hook",
    "LoggedRequest",
    "Offer",
    "Purchase",
    "Site",
    "Transaction",
]
