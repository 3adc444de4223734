"""Production mode (COURSESIGNAL_ENV=production) refuses to start on a missing, generated or placeholder secret
key, without encryption keys and without its base URL; the other settings this mode leans on are read and
checked. Outside production an unset base URL follows the address `coursesignal run` serves on."""

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
        "COURSESIGNAL_BASE_URL": "https://app.coursesignal.example/",
    }
    environ.update(overrides)
    return {name: value for name, value in environ.items() if value != "<unset>"}


def test_production_starts_with_its_own_keys_and_says_so(tmp_path: Path) -> None:
    settings = Settings.from_environ(_production(tmp_path))
    assert settings.is_production
    assert settings.secret_key == STRONG_KEY
    assert settings.base_url == "https://app.coursesignal.example"
    assert settings.served_at("0.0.0.0", 8000).base_url == "https://app.coursesignal.example"  # noqa: S104
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
        ({"COURSESIGNAL_BASE_URL": "<unset>"}, "Set COURSESIGNAL_BASE_URL"),
        ({"COURSESIGNAL_BASE_URL": ""}, "Set COURSESIGNAL_BASE_URL"),
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


def test_the_workers_cpu_priority_is_below_the_apps_unless_chosen(tmp_path: Path) -> None:
    assert Settings.from_environ(_production(tmp_path)).worker_niceness == 10
    assert Settings.from_environ(_production(tmp_path, COURSESIGNAL_WORKER_NICENESS="0")).worker_niceness == 0
    with pytest.raises(SettingsError, match="19 at most"):
        Settings.from_environ(_production(tmp_path, COURSESIGNAL_WORKER_NICENESS="20"))
    with pytest.raises(SettingsError, match="must be a whole number"):
        Settings.from_environ(_production(tmp_path, COURSESIGNAL_WORKER_NICENESS="-5"))


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


@pytest.mark.parametrize(
    ("host", "port", "address"),
    [
        ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("localhost", 8000, "http://localhost:8000"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),  # noqa: S104 - every interface, reached on the loopback
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("192.168.1.20", 5000, "http://192.168.1.20:5000"),
    ],
)
def test_an_unset_base_url_is_the_address_run_serves_on(tmp_path: Path, host: str, port: int, address: str) -> None:
    settings = Settings.from_environ({"COURSESIGNAL_INSTANCE_PATH": str(tmp_path)})
    assert settings.base_url == "http://127.0.0.1:8000"  # `run` with no options
    assert settings.served_at(host, port).base_url == address
    chosen = Settings.from_environ(
        {"COURSESIGNAL_INSTANCE_PATH": str(tmp_path), "COURSESIGNAL_BASE_URL": "https://tunnel.example"}
    )
    assert chosen.served_at(host, port).base_url == "https://tunnel.example"


def test_run_on_another_port_links_to_that_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`coursesignal run --port 9000` with no BASE_URL: the app it serves builds its links on port 9000."""
    from gunicorn.app.base import BaseApplication

    from coursesignal.cli import main

    served: dict[str, str] = {}

    def serve(server: BaseApplication) -> None:  # instead of gunicorn's loop: build the app it would serve
        served["bind"] = server.cfg.bind[0]
        app = server.load()
        served["base_url"] = app.config["BASE_URL"]
        container = app.extensions["coursesignal.container"]
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()

    monkeypatch.setattr(BaseApplication, "run", serve)
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(tmp_path))
    for name in ("BASE_URL", "DATABASE_URL", "REDIS_URL", "ENV"):
        monkeypatch.delenv(f"COURSESIGNAL_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert served == {"bind": "127.0.0.1:9000", "base_url": "http://127.0.0.1:9000"}
    assert "links and snippets use http://127.0.0.1:9000" in result.output
