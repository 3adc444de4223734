"""A local fake of Stripe for CourseSignal's billing and the Stripe sales plugin.

with FakeStripe() as stripe:
    price = stripe.add_price()
    client = StripeClient(stripe.secret_key, base_addresses={"api": stripe.base_url})
"""

from tests.fakes.stripe.server import FakeStripe, RecordedRequest
from tests.fakes.stripe.webhooks import API_VERSION, signature_header

__all__ = ["API_VERSION", "FakeStripe", "RecordedRequest", "signature_header"]
