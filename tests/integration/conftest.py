"""Fixtures several integration modules use by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coursesignal import PlatformAdapter, hookimpl
from plugins.stripe_sales import StripeSalesPlatform
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.stripe import FakeStripe
from tests.integration.billing_world import PRICE_ID
from tests.live_app import Live, serve_app


class StripeOnTheFake:
    """The Stripe sales plugin, pointed at the fake Stripe."""

    def __init__(self, api_url: str) -> None:
        self._adapter = StripeSalesPlatform(api_url=api_url)

    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [self._adapter]


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """The fake Stripe, selling CourseSignal's monthly plan."""
    with FakeStripe() as fake:
        fake.add_price(PRICE_ID, unit_amount=9900, currency="usd")
        yield fake


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    """The fake Stripe as a creator's shop (the sales plugin's side), with no plan of CourseSignal's."""
    with FakeStripe() as server:
        yield server


@pytest.fixture
def live_with_stripe(database_url: str, tmp_path: Path, stripe_fake: FakeStripe) -> Iterator[Live]:
    """The app served on a real port with Kajabi on its fake (`live.fake`) and the Stripe sales plugin on
    `stripe_fake`."""
    with (
        FakeKajabi() as kajabi,
        serve_app(database_url, tmp_path, kajabi, plugins=(StripeOnTheFake(stripe_fake.base_url),)) as app,
    ):
        yield app
