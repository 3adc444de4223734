"""argon2id hashing and the signed link tokens, with the real libraries."""

from __future__ import annotations

import pytest

from adapters.security.argon2_hasher import OWASP_MEMORY_COST_KIB, OWASP_TIME_COST, Argon2PasswordHasher
from adapters.security.signed_tokens import SignedLinkTokens
from core.ports.tokens import BadToken, ExpiredToken
from tests.unit.fakes import FixedClock


def test_argon2id_with_owasp_parameters() -> None:
    hasher = Argon2PasswordHasher()
    password_hash = hasher.hash("correct horse battery staple")
    assert password_hash.startswith(f"$argon2id$v=19$m={OWASP_MEMORY_COST_KIB},t={OWASP_TIME_COST},p=1$")
    assert hasher.verify(password_hash, "correct horse battery staple")
    assert not hasher.verify(password_hash, "correct horse battery stapler")
    assert not hasher.verify("not a hash", "anything")
    assert not hasher.needs_rehash(password_hash)


def test_a_hash_from_older_parameters_needs_rehashing() -> None:
    old = Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("correct horse battery staple")
    current = Argon2PasswordHasher()
    assert current.verify(old, "correct horse battery staple")
    assert current.needs_rehash(old)
    assert current.needs_rehash("not a hash")


def test_tokens_round_trip_per_purpose_and_expire_on_our_clock() -> None:
    clock = FixedClock()
    tokens = SignedLinkTokens("secret", clock)
    token = tokens.issue("verify-email", {"a": 7, "e": "creator@example.com"})
    assert tokens.read("verify-email", token, 60) == {"a": 7, "e": "creator@example.com"}
    with pytest.raises(BadToken):
        tokens.read("reset-password", token, 60)
    with pytest.raises(BadToken):
        SignedLinkTokens("another secret", clock).read("verify-email", token, 60)
    with pytest.raises(BadToken):
        tokens.read("verify-email", token[:-2] + "xx", 60)
    clock.advance(seconds=61)
    with pytest.raises(ExpiredToken):
        tokens.read("verify-email", token, 60)
