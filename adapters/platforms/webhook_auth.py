"""The per-connection secret token in a webhook URL, for platforms that sign nothing (Kajabi, Teachable).

Only a hash of the token is stored, so a database leak does not let anyone post purchases; tokens are
long random strings, so a fast hash is enough, and the comparison takes constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UrlTokenAuth:
    def issue(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _hash(token)

    def matches(self, token: str, stored_hash: str) -> bool:
        return hmac.compare_digest(_hash(token), stored_hash)
