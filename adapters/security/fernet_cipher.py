"""Credentials and tokens encrypted at rest with cryptography's MultiFernet.

Keys come from COURSESIGNAL_ENCRYPTION_KEYS, comma-separated: the first encrypts, every one decrypts, so
a new key is put first, `coursesignal rotate-keys` re-encrypts everything with it, and the old key is
then removed (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


class FernetTokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def __repr__(self) -> str:
        return "FernetTokenCipher(<keys hidden>)"

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise ValueError(
                "stored credentials cannot be decrypted with any configured key; "
                "was a key removed from COURSESIGNAL_ENCRYPTION_KEYS before `coursesignal rotate-keys` ran?"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise ValueError("stored credentials cannot be decrypted with any configured key") from None
