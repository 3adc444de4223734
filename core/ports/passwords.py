from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """A slow, salted, memory-hard password hash (argon2id in production)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches; False for a mismatch or an unreadable hash, never an error."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than today's: rehash at the next login."""
        ...
