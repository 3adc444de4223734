"""Credentials at rest, webhook URL tokens, retry timing and the settings that configure them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from adapters.platforms.http import RetryableStatus, RetryingHttp, retry_after_seconds
from adapters.platforms.webhook_auth import UrlTokenAuth
from adapters.security.fernet_cipher import FernetTokenCipher, new_encryption_key
from core.ports.platforms import PlatformUnavailable
from coursesignal.settings import Settings, SettingsError


def _response(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


def test_multifernet_rotation_moves_every_secret_to_the_first_key() -> None:
    old, new = new_encryption_key(), new_encryption_key()
    sealed = FernetTokenCipher([old]).encrypt(b'{"client_secret": "s3cret"}')
    assert b"s3cret" not in sealed
    both = FernetTokenCipher([new, old])
    assert both.decrypt(sealed) == b'{"client_secret": "s3cret"}'  # old secrets stay readable during rotation
    rotated = both.rotate(sealed)
    assert FernetTokenCipher([new]).decrypt(rotated) == b'{"client_secret": "s3cret"}'
    with pytest.raises(ValueError, match="cannot be decrypted"):
        FernetTokenCipher([old]).decrypt(rotated)
    assert "keys hidden" in repr(both)
    with pytest.raises(ValueError, match="at least one"):
        FernetTokenCipher([])


def test_webhook_tokens_are_random_stored_hashed_and_compared_whole() -> None:
    auth = UrlTokenAuth()
    token, stored = auth.issue()
    other, _ = auth.issue()
    assert token != other
    assert len(token) >= 40
    assert token not in stored
    assert auth.matches(token, stored)
    assert not auth.matches(other, stored)
    assert not auth.matches(token[:-1], stored)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds(_response(429, **{"Retry-After": "12"})) == 12.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_seconds(_response(429, **{"Retry-After": later})) or 0) <= 30
    assert retry_after_seconds(_response(429, **{"Retry-After": "soon"})) is None
    assert retry_after_seconds(_response(429)) is None


def test_retries_are_bounded_and_capped() -> None:
    sleeps: list[float] = []
    http = RetryingHttp("Kajabi", attempts=3, max_delay=10, sleep=sleeps.append)
    calls = []

    def throttled() -> None:
        calls.append(1)
        raise RetryableStatus(_response(429, **{"Retry-After": "3600"}))

    with pytest.raises(PlatformUnavailable, match="Kajabi is not answering right now \\(HTTP 429\\)"):
        http.run(throttled)
    assert len(calls) == 3
    assert sleeps == [10, 10]


def test_encryption_keys_come_from_the_environment_or_a_development_file(tmp_path: Path) -> None:
    key, older = new_encryption_key(), new_encryption_key()
    base = {"COURSESIGNAL_INSTANCE_PATH": str(tmp_path)}
    settings = Settings.from_environ({**base, "COURSESIGNAL_ENCRYPTION_KEYS": f"{key}, {older}"}, load_dotenv=False)
    assert settings.encryption_keys == (key, older)
    assert key not in repr(settings)

    development = Settings.from_environ(base, load_dotenv=False)
    assert development.encryption_keys == ((tmp_path / "encryption_key").read_text(),)
    assert Settings.from_environ(base, load_dotenv=False).encryption_keys == development.encryption_keys

    with pytest.raises(SettingsError, match="key 2 is not a Fernet key"):
        Settings.from_environ({**base, "COURSESIGNAL_ENCRYPTION_KEYS": f"{key},not-a-key"}, load_dotenv=False)
    production = {**base, "COURSESIGNAL_ENV": "production", "COURSESIGNAL_SECRET_KEY": "x" * 40}
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS"):
        Settings.from_environ(production, load_dotenv=False)


def test_platform_api_urls_and_the_poll_interval_are_configurable(tmp_path: Path) -> None:
    environ = {
        "COURSESIGNAL_INSTANCE_PATH": str(tmp_path),
        "COURSESIGNAL_KAJABI_API_URL": "http://127.0.0.1:8765/",
        "COURSESIGNAL_PLATFORM_POLL_SECONDS": "60",
    }
    settings = Settings.from_environ(environ, load_dotenv=False)
    assert settings.platform_api_urls == {"kajabi": "http://127.0.0.1:8765"}
    assert settings.platform_poll_seconds == 60
    with pytest.raises(SettingsError, match="POLL_SECONDS"):
        Settings.from_environ({**environ, "COURSESIGNAL_PLATFORM_POLL_SECONDS": "1"}, load_dotenv=False)
