"""Secrets at rest and webhook URL tokens."""

from __future__ import annotations

from typing import Protocol


class TokenCipher(Protocol):
    """Encrypts credentials and platform tokens before they are stored; never logs what it sees."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The plaintext; raises ValueError when no configured key can read it."""
        ...

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same plaintext encrypted again with the current (first) key."""
        ...


class WebhookTokens(Protocol):
    """The per-connection secret in a webhook URL, for platforms that sign nothing."""

    def issue(self) -> tuple[str, str]:
        """A new random token and the hash of it to store; the token itself is stored nowhere."""
        ...

    def matches(self, token: str, stored_hash: str) -> bool:
        """Whether `token` is the one `stored_hash` was made from, compared in constant time."""
        ...
