"""Stripe's webhook signing scheme, done by hand so the tests do not trust the library they check.

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

# The API version the fake's events are shaped after (the webhook endpoint's pinned version).
API_VERSION = "2026-03-25.dahlia"


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def sign(
    event: dict[str, Any], secret: str, timestamp: int, rolled_from: tuple[str, ...] = ()
) -> tuple[bytes, dict[str, str]]:
    """`rolled_from`: older secrets still valid during a roll; Stripe then sends one v1 per secret."""
    body = json.dumps(event, indent=2).encode()
    header = signature_header(body, secret, timestamp)
    for old in rolled_from:
        header += "," + signature_header(body, old, timestamp).split(",", 1)[1]
    return body, {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": header,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - tests' own URL
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
