"""Timed, signed tokens for mailed links (itsdangerous), one salt per purpose so they never cross over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from core.ports.clock import Clock
from core.ports.tokens import BadToken, ExpiredToken


class SignedLinkTokens:
    def __init__(self, secret_key: str, clock: Clock) -> None:
        if not secret_key:
            raise ValueError("signed tokens need a secret key")
        self._secret_key = secret_key

        class _ClockSigner(TimestampSigner):
            # Our clock, not the system's, so expiry follows the same time as everything else.
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        self._signer = _ClockSigner

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret_key, salt=f"coursesignal.{purpose}", signer=self._signer)

    def issue(self, purpose: str, payload: Mapping[str, str | int]) -> str:
        return str(self._serializer(purpose).dumps(dict(payload)))

    def read(self, purpose: str, token: str, max_age_seconds: int) -> dict[str, str | int]:
        try:
            payload: Any = self._serializer(purpose).loads(token, max_age=max_age_seconds)
        except SignatureExpired:
            raise ExpiredToken(purpose) from None
        except BadSignature:
            raise BadToken(purpose) from None
        if not isinstance(payload, dict):
            raise BadToken(purpose)
        return payload
