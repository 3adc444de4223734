"""A local fake of Teachable's Admin API v1 (https://developers.teachable.com/v1).

Built from the facts in /work/shared/research/platforms.md §2. Standard library only. Typical use::

    from tests.fakes.teachable import FakeTeachable

    with FakeTeachable() as teachable:
        plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
        buyer = teachable.add_user("ava@example.com", "Ava Johnson")
        txn = teachable.add_purchase(buyer, plan)
        platform = TeachablePlatform(api_url=teachable.api_url)   # or COURSESIGNAL_TEACHABLE_API_URL
        credentials = {"api_key": teachable.api_key}
        teachable.deliver("Transaction.created", txn, url=webhook_url)

Run standalone: ``python -m tests.fakes.teachable --port 8766 --seed 100``.
"""

from .fake import DELIVERABLE_EVENTS, Delivery, FakeTeachable, LoggedRequest
from .models import Course, PricingPlan, Sale, Transaction, User, Webhook
from .server import DATE_SPELLINGS

__all__ = [
    "DATE_SPELLINGS",
    "DELIVERABLE_EVENTS",
    "Course",
    "Delivery",
    "FakeTeachable",
    "LoggedRequest",
    "PricingPlan",
    "Sale",
    "Transaction",
    "User",
    "Webhook",
]
