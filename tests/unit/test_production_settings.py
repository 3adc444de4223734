"""Production mode (COURSESIGNAL_ENV=production) refuses to start on a missing, generated or placeholder secret
key and without encryption keys; the other settings this mode leans on are read and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coursesignal.settings import Settings, SettingsError

STRONG_KEY = "q8Vn3-strong-and-long-enough-secret-key-0123456789"
FERNET_KEY = "dGVzdC1vbmx5LWtleS1jb3Vyc2VzaWduYWwtMzJieXQ="


def _production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    environ = {
        "COURSESIGNAL_ENV": "production",
        "COURSESIGNAL_INSTANCE_PATH": str(tmp_path),
        "COURSESIGNAL_SECRET_KEY": STRONG_KEY,
        "COURSESIGNAL_ENCRYPTION_KEYS": FERNET_KEY,
    }
    environ.update(overrides)
    return {name: value for name, value in environ.items() if value != "<unset>"}


def test_production_starts_with_its_own_keys_and_says_so(tmp_path: Path) -> None:
    settings = Settings.from_environ(_production(tmp_path))
    assert settings.is_production
    assert settings.secret_key == STRONG_KEY
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "encryption_key").exists()


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"COURSESIGNAL_SECRET_KEY": "<unset>"}, "Set COURSESIGNAL_SECRET_KEY"),
        ({"COURSESIGNAL_SECRET_KEY": ""}, "Set COURSESIGNAL_SECRET_KEY"),
        ({"COURSESIGNAL_SECRET_KEY": "change-me"}, "well-known placeholder"),
        ({"COURSESIGNAL_SECRET_KEY": "SECRET"}, "well-known placeholder"),
        ({"COURSESIGNAL_SECRET_KEY": "test-secret-key"}, "well-known placeholder"),
        ({"COURSESIGNAL_SECRET_KEY": "short-but-random-91"}, "shorter than 32"),
        ({"COURSESIGNAL_ENCRYPTION_KEYS": "<unset>"}, "Set COURSESIGNAL_ENCRYPTION_KEYS"),
        ({"COURSESIGNAL_ENCRYPTION_KEYS": "not-a-fernet-key"}, "not a Fernet key"),
    ],
)
def test_production_refuses_to_start_without_real_keys(
    tmp_path: Path, overrides: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_environ(_production(tmp_path, **overrides))
    assert not (tmp_path / "secret_key").exists(), "production never generates a key"


def test_development_generates_and_keeps_its_keys(tmp_path: Path) -> None:
    first = Settings.from_environ({"COURSESIGNAL_INSTANCE_PATH": str(tmp_path)})
    again = Settings.from_environ({"COURSESIGNAL_INSTANCE_PATH": str(tmp_path)})
    assert not first.is_production
    assert len(first.secret_key) >= 32
    assert (first.secret_key, first.encryption_keys) == (again.secret_key, again.encryption_keys)
    # A placeholder is tolerated outside production: nothing real is at stake on a laptop.
    assert Settings.from_environ({"COURSESIGNAL_SECRET_KEY": "dev", "COURSESIGNAL_INSTANCE_PATH": str(tmp_path)})


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="must be development, production or test"):
        Settings.from_environ({"COURSESIGNAL_ENV": "prod", "COURSESIGNAL_INSTANCE_PATH": str(tmp_path)})


def test_proxies_and_session_timeouts_are_read_with_safe_defaults(tmp_path: Path) -> None:
    defaults = Settings.from_environ(_production(tmp_path))
    assert defaults.trusted_proxies == 0
    assert (defaults.session_idle_timeout_seconds, defaults.session_absolute_timeout_seconds) == (43200, 2592000)
    chosen = Settings.from_environ(
        _production(
            tmp_path,
            COURSESIGNAL_TRUSTED_PROXIES="2",
            COURSESIGNAL_SESSION_IDLE_TIMEOUT_SECONDS="1800",
            COURSESIGNAL_SESSION_ABSOLUTE_TIMEOUT_SECONDS="86400",
        )
    )
    assert (chosen.trusted_proxies, chosen.session_idle_timeout_seconds) == (2, 1800)
    assert chosen.session_absolute_timeout_seconds == 86400


@pytest.mark.parametrize(
    "overrides",
    [
        {"COURSESIGNAL_TRUSTED_PROXIES": "-1"},
        {"COURSESIGNAL_TRUSTED_PROXIES": "one"},
        {"COURSESIGNAL_SESSION_IDLE_TIMEOUT_SECONDS": "5"},
        {"COURSESIGNAL_SESSION_ABSOLUTE_TIMEOUT_SECONDS": "1.5"},
    ],
)
def test_bad_proxy_and_timeout_values_are_refused(tmp_path: Path, overrides: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="must be a whole number"):
        Settings.from_environ(_production(tmp_path, **overrides))


def test_the_cli_refuses_to_serve_in_production_on_a_placeholder_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coursesignal.cli import main

    for name, value in _production(tmp_path, COURSESIGNAL_SECRET_KEY="changeme").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--port", "1"])
    assert result.exit_code != 0
    assert "well-known placeholder" in result.output
