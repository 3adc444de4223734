"""User API Keys and OAuth 2 tokens, as documented for Kajabi's `POST /v1/oauth/token`.

Mirrors (spec `/v1/oauth/token`, `/v1/oauth/revoke`; developers.kajabi.com/api-reference/authentication):

* a creator creates a *User API Key* (client_id + client_secret) with a set of permission scopes;
* ``grant_type=client_credentials`` → ``access_token`` + ``refresh_token`` (JWTs), ``token_type: Bearer``,
  ``expires_in`` seconds;
* ``grant_type=refresh_token`` with an unexpired refresh token → a new pair;
* ``/v1/oauth/revoke`` with either token invalidates both;
* deleting or rotating the key invalidates every token granted with it.

Unconfirmed details chosen here: the access-token lifetime (default 7200 s, what third-party code
assumes), refresh tokens being single-use (the old pair dies on refresh) and living 14 days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

#: Permission scopes named in the `POST /v1/hooks` description (the only ones Kajabi documents).
ALL_SCOPES: frozenset[str] = frozenset(
    {"view:purchases", "view:transactions", "view:orders", "view:form_submissions", "view:contacts"}
)


@dataclass
class ApiKey:
    """A User API Key as created under Settings > Public API."""

    client_id: str
    client_secret: str
    scopes: frozenset[str] = ALL_SCOPES
    name: str = "CourseSignal"
    user_name: str = "Demo Owner"
    user_email: str = "owner@example.com"
    role_level: str = "owner"


@dataclass
class TokenPair:
    """One grant: an access token and its refresh token."""

    access_token: str
    refresh_token: str
    client_id: str
    issued_at: float
    expires_at: float
    refresh_expires_at: float
    revoked: bool = False

    def to_response(self, now: float) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": max(0, round(self.expires_at - now)),
        }


class OAuthError(Exception):
    """An OAuth error answered as ``{"error": code}`` with ``status``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass
class AuthRegistry:
    """Keys and tokens. Not thread-safe by itself: the fake calls it under its own lock."""

    clock: Callable[[], float]
    token_lifetime: int = 7200
    refresh_lifetime: int = 14 * 24 * 3600
    keys: dict[str, ApiKey] = field(default_factory=dict)
    _by_access: dict[str, TokenPair] = field(default_factory=dict)
    _by_refresh: dict[str, TokenPair] = field(default_factory=dict)
    _signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    # ---- keys ------------------------------------------------------------------------------------
    def create_key(
        self,
        scopes: frozenset[str] | set[str] | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        name: str = "CourseSignal",
    ) -> ApiKey:
        key = ApiKey(
            client_id=client_id or secrets.token_urlsafe(24),
            client_secret=client_secret or secrets.token_urlsafe(32),
            scopes=frozenset(ALL_SCOPES if scopes is None else scopes),
            name=name,
        )
        self.keys[key.client_id] = key
        return key

    def rotate_secret(self, client_id: str) -> str:
        """Dashboard "Rotate": new secret, every token granted with the key stops working."""
        key = self.keys[client_id]
        key.client_secret = secrets.token_urlsafe(32)
        self._revoke_key_tokens(client_id)
        return key.client_secret

    def delete_key(self, client_id: str) -> None:
        """Dashboard "Delete": the credentials and all their tokens stop working."""
        self.keys.pop(client_id, None)
        self._revoke_key_tokens(client_id)

    def _revoke_key_tokens(self, client_id: str) -> None:
        for pair in self._by_access.values():
            if pair.client_id == client_id:
                pair.revoked = True

    # ---- grants ----------------------------------------------------------------------------------
    def grant(self, form: dict[str, str]) -> TokenPair:
        """Handle a `POST /v1/oauth/token` form; raises :class:`OAuthError` like Doorkeeper would."""
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            key = self.keys.get(form.get("client_id", ""))
            if key is None or not hmac.compare_digest(key.client_secret, form.get("client_secret", "")):
                raise OAuthError(401, "invalid_client")
            return self._issue(key.client_id)
        if grant_type == "refresh_token":
            pair = self._by_refresh.get(form.get("refresh_token", ""))
            if (
                pair is None
                or pair.revoked
                or pair.refresh_expires_at <= self.clock()
                or pair.client_id not in self.keys
            ):
                raise OAuthError(400, "invalid_grant")
            pair.revoked = True  # single-use refresh tokens: the previous pair dies
            return self._issue(pair.client_id)
        if not grant_type:
            raise OAuthError(400, "invalid_request")
        raise OAuthError(400, "unsupported_grant_type")

    def _issue(self, client_id: str) -> TokenPair:
        now = self.clock()
        pair = TokenPair(
            access_token=self._jwt(client_id, "access", now, now + self.token_lifetime),
            refresh_token=self._jwt(client_id, "refresh", now, now + self.refresh_lifetime),
            client_id=client_id,
            issued_at=now,
            expires_at=now + self.token_lifetime,
            refresh_expires_at=now + self.refresh_lifetime,
        )
        self._by_access[pair.access_token] = pair
        self._by_refresh[pair.refresh_token] = pair
        return pair

    def _jwt(self, client_id: str, use: str, iat: float, exp: float) -> str:
        """Tokens are HS256 JWTs ("must be a unexpired JWT token"), opaque to clients."""

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "iss": "fake-kajabi",
            "sub": client_id,
            "use": use,
            "iat": int(iat),
            "exp": int(exp),
            "jti": secrets.token_hex(8),
        }
        payload = b64(json.dumps(claims).encode())
        signature = b64(hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    # ---- use -------------------------------------------------------------------------------------
    def authenticate(self, access_token: str) -> ApiKey | None:
        """The key behind a live bearer token, or ``None`` (unknown, expired, revoked, key gone)."""
        pair = self._by_access.get(access_token)
        if pair is None or pair.revoked or pair.expires_at <= self.clock():
            return None
        return self.keys.get(pair.client_id)

    def revoke(self, token: str) -> None:
        """`/v1/oauth/revoke`: either token of a pair invalidates both (unknown tokens are a no-op)."""
        pair = self._by_access.get(token) or self._by_refresh.get(token)
        if pair is not None:
            pair.revoked = True

    def expire_access_tokens(self) -> int:
        """Make every live access token expire now (refresh tokens keep working)."""
        now = self.clock()
        live = [p for p in self._by_access.values() if not p.revoked and p.expires_at > now]
        for pair in live:
            pair.expires_at = now
        return len(live)
