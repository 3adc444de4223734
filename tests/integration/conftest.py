"""Fixtures several integration modules use by name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.stripe import FakeStripe
from tests.integration.billing_world import PRICE_ID


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """The fake Stripe, selling CourseSignal's monthly plan."""
    with FakeStripe() as fake:
        fake.add_price(PRICE_ID, unit_amount=9900, currency="usd")
        yield fake
