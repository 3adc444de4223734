"""What of a stored platform delivery is about a person: finding a person's deliveries, and erasing them.

Raw deliveries are kept as the platform sent them. A delivery is the person's when one of its values holds
one of their emails or visitor ids, or is exactly the platform id of one of their purchases (a Stripe
payment event carries the buyer's name and address next to the payment's id, with no email). Erasing it
replaces every value under a personal key (a name, a phone, an address, the details blocks Stripe and the
course platforms send about a buyer) and every mention of their emails and visitor ids; ids, amounts and
times stay, so the delivery still tells what happened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection

# Keys whose values describe a person, in the deliveries of every platform we read (Stripe's customer,
# charge, checkout session and invoice objects; Kajabi's member and customer; Teachable's user and student).
PERSONAL_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "address",
        "shipping",
        "shipping_details",
        "billing_details",
        "customer_details",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "receipt_email",
        "ip",
        "ip_address",
        "client_ip",
    }
)


def _pattern(needles: Collection[str]) -> re.Pattern[str] | None:
    words = sorted({n for n in needles if n}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None


def _parsed(body: bytes) -> object | None:
    try:
        parsed: object = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return parsed


def _leaves(value: object) -> list[str]:
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            found.append(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            found.append(str(item))
    return found


def mentions(body: bytes, needles: Collection[str], ids: Collection[str]) -> bool:
    """Whether the delivery names the person: a value holding one of `needles` (emails, visitor ids; any
    letter case), or a value that is exactly one of `ids` (their purchases' platform ids)."""
    pattern = _pattern(needles)
    parsed = _parsed(body)
    if parsed is None:
        return pattern is not None and pattern.search(body.decode("utf-8", errors="replace")) is not None
    exact = set(ids)
    return any(leaf in exact or (pattern is not None and pattern.search(leaf)) for leaf in _leaves(parsed))


def _erase(value: object, pattern: re.Pattern[str] | None, replacement: str) -> object:
    if isinstance(value, dict):
        return {
            key: (
                replacement
                if key in PERSONAL_KEYS and item not in (None, "", [], {})
                else _erase(item, pattern, replacement)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_erase(item, pattern, replacement) for item in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(replacement, value)
    return value


def erase_from_body(body: bytes, needles: Collection[str], replacement: str) -> bytes:
    """The body with its personal values and every mention of `needles` replaced by `replacement`."""
    pattern = _pattern(needles)
    parsed = _parsed(body)
    if parsed is None:
        text = body.decode("utf-8", errors="replace")
        return (pattern.sub(replacement, text) if pattern is not None else text).encode()
    return json.dumps(_erase(parsed, pattern, replacement), ensure_ascii=False).encode()


def erase_from_text(text: str, needles: Collection[str], replacement: str) -> str:
    pattern = _pattern(needles)
    return pattern.sub(replacement, text) if pattern is not None else text
