"""Stripe sales: a creator's own course sales in their Stripe account, read with a restricted key and
from the signed webhooks of an endpoint they add in Stripe.

A plugin like any third party's: it imports only `coursesignal` and registers itself under the
`coursesignal.platforms` entry point (pyproject.toml). The package is never called `stripe`, which would
hide the stripe library. Creators' guide: docs/platforms/stripe.md.
"""

from collections.abc import Mapping

from coursesignal import PlatformAdapter, hookimpl

from .platform import StripeSalesPlatform

__all__ = ["StripeSalesPlatform", "coursesignal_platforms"]


@hookimpl
def coursesignal_platforms(api_urls: Mapping[str, str]) -> list[PlatformAdapter]:
    """`api_urls["stripe"]` (COURSESIGNAL_STRIPE_API_URL) points the creators' Stripe calls at a local fake."""
    return [StripeSalesPlatform(api_url=api_urls.get(StripeSalesPlatform.name) or None)]
