"""The server-side fingerprint: a salted hash of network, browser and language, never the address itself.

The salt changes every day and old salts are destroyed, so a fingerprint cannot be followed across days
or reversed to an address: it only says "the same browser on the same network, today".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta
from functools import lru_cache

SALT_LIFETIME = timedelta(hours=48)


@lru_cache(maxsize=4096)  # a visitor sends several events from one address: parsed once
def network_of(address: str) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: a household or office, not a device."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def fingerprint(salt: bytes, *, address: str | None, user_agent: str | None, language: str | None) -> str | None:
    """A hex digest identifying browser + network for one salt day; None without an address or agent."""
    network = network_of(address) if address else None
    if network is None or not user_agent:
        return None
    material = "\n".join((network, user_agent.strip(), (language or "").strip().lower()))
    return hmac.new(salt, material.encode(), hashlib.sha256).hexdigest()[:32]


# Visitor ids the server makes up for browsers that can keep none of their own (cookies and storage
# blocked). The tracker's own ids never contain "-", so the prefix cannot collide with one.
DERIVED_VISITOR_PREFIX = "d-"


def derived_visitor_key(salt: bytes, *, address: str | None, user_agent: str | None, site_key: str) -> str | None:
    """A pseudonymous visitor id for one browser on one site for one salt day: a salted hash of the full
    address, the browser and the site. None without an address or agent. Weaker than a kept id: it
    changes every day and merges people behind one address with the same browser."""
    if not address or not user_agent:
        return None
    material = "\n".join((address.strip(), user_agent.strip(), site_key))
    return DERIVED_VISITOR_PREFIX + hmac.new(salt, material.encode(), hashlib.sha256).hexdigest()[:30]


def is_derived_visitor_key(key: str) -> bool:
    return key.startswith(DERIVED_VISITOR_PREFIX)


def salt_day(moment: datetime) -> datetime:
    """The start (UTC midnight) of the salt day a moment falls in."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
