"""Environment -> typed settings. Read once, at startup; secrets never appear in repr or logs.

Production mode is `COURSESIGNAL_ENV=production`. In it the app refuses to start without its own secret
key (set, not generated, not a well-known placeholder, at least 32 characters), without
COURSESIGNAL_ENCRYPTION_KEYS and without COURSESIGNAL_BASE_URL, and its session cookies are sent over HTTPS
only. Elsewhere an unset BASE_URL is the address `coursesignal run` serves on (see `served_at`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PREFIX = "COURSESIGNAL_"


class SettingsError(Exception):
    pass


def _instance_secret(instance_path: Path) -> str:
    """A development secret key kept in the instance folder, so sessions survive restarts."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _instance_encryption_key(instance_path: Path) -> str:
    """A development Fernet key kept in the instance folder (production sets COURSESIGNAL_ENCRYPTION_KEYS)."""
    path = instance_path / "encryption_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _encryption_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise SettingsError(
                f"{PREFIX}ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64 bytes). Make one "
                'with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            )
    return keys


# Placeholders copied from examples and tutorials: a secret key anyone can read is no secret.
WELL_KNOWN_SECRET_KEYS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "dev",
        "development",
        "test",
        "test-secret-key",
        "default",
        "password",
        "coursesignal",
        "please-change-me",
        "your-secret-key",
        "xxx",
    }
)
MIN_PRODUCTION_SECRET_KEY_LENGTH = 32


def _check_production_secret_key(secret_key: str) -> None:
    if secret_key.strip().lower() in WELL_KNOWN_SECRET_KEYS:
        raise SettingsError(
            f"{PREFIX}SECRET_KEY is a well-known placeholder: production refuses it. Make one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if len(secret_key) < MIN_PRODUCTION_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"{PREFIX}SECRET_KEY is shorter than {MIN_PRODUCTION_SECRET_KEY_LENGTH} characters: production refuses "
            'it. Make one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )


def _whole_number(name: str, raw: str, minimum: int) -> int:
    if not raw.isdigit() or int(raw) < minimum:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, {minimum} or more, not {raw!r}")
    return int(raw)


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Unix's lowest CPU priority.
MAX_NICENESS = 19


def served_address(host: str, port: int) -> str:
    """The address a browser on this machine reaches `coursesignal run --host H --port P` at: a wildcard bind
    (every interface) is reached through the loopback, and an IPv6 address is bracketed."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding it  # nosec B104
        host = DEFAULT_HOST
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


_API_URL_VARIABLE = re.compile(rf"^{PREFIX}([A-Z0-9_]+)_API_URL$")


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    base_url: str
    instance_path: Path
    environment: str = "development"
    # False when COURSESIGNAL_BASE_URL is unset and base_url is only the default address of `run`.
    base_url_chosen: bool = True
    secret_key: str = field(default="", repr=False)
    log_level: str = "INFO"
    smtp_url: str | None = field(default=None, repr=False)  # may carry a password
    mail_from: str = "CourseSignal <no-reply@coursesignal.localhost>"

    @property
    def mail_backend(self) -> str:
        return "smtp" if self.smtp_url else "outbox"

    @property
    def outbox_path(self) -> Path:
        return self.instance_path / "outbox"

    # CourseSignal's own billing, under Stripe's own names (docs/billing.md). Unset: billing is off.
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_price_id: str | None = None
    stripe_api_base: str | None = None  # only to point at a local fake of Stripe
    operator_email: str | None = None  # where billing anomalies (a second live subscription) are reported
    # MultiFernet keys for credentials at rest: the first encrypts, all decrypt.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    # Base URLs replacing a platform's real API host, by platform name (COURSESIGNAL_KAJABI_API_URL, ...).
    platform_api_urls: dict[str, str] = field(default_factory=dict)
    # How often connected platforms are polled for refunds and missed webhooks.
    platform_poll_seconds: int = 300
    # How long raw tracker events are kept before the retention job deletes them (about 25 months).
    event_retention_days: int = 761
    # Reverse proxies we run in front of the app (load balancer, TLS terminator): how many X-Forwarded-For
    # hops to trust to find the client's address. 0: the app is reached directly, and nothing is trusted.
    trusted_proxies: int = 0
    # A sign-in ends after this long without a request (unless "keep me signed in"), and after this long
    # whatever happens.
    session_idle_timeout_seconds: int = 12 * 3600
    session_absolute_timeout_seconds: int = 30 * 24 * 3600
    # The CPU priority `coursesignal worker` gives itself (Unix niceness, 0 to 19): on a machine it shares
    # with the app, a burst of tracker beacons is answered first and the pipeline catches up after.
    worker_niceness: int = 10

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for an app served on host:port: links in mail, snippets and webhook addresses
        follow the address actually served on, unless COURSESIGNAL_BASE_URL chose one."""
        if self.base_url_chosen:
            return self
        return replace(self, base_url=served_address(host, port))

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def job_backend(self) -> str:
        return "rq" if self.redis_url else "in_process"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *, load_dotenv: bool = True) -> Settings:
        if environ is None:
            if load_dotenv:
                from dotenv import load_dotenv as _load

                _load(Path.cwd() / ".env", override=False)
            environ = os.environ

        def get(name: str, default: str | None = None) -> str | None:
            value = environ.get(PREFIX + name)
            return value if value not in (None, "") else default

        instance_path = Path(get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        environment = get("ENV", "development") or "development"
        if environment not in ("development", "production", "test"):
            raise SettingsError(f"{PREFIX}ENV must be development, production or test, not {environment!r}")
        secret_key = get("SECRET_KEY")
        if secret_key is None:
            if environment == "production":
                raise SettingsError(f"Set {PREFIX}SECRET_KEY: production never runs on a generated secret key.")
            secret_key = _instance_secret(instance_path)
        elif environment == "production":
            _check_production_secret_key(secret_key)
        raw_keys = get("ENCRYPTION_KEYS")
        if raw_keys is None:
            if environment == "production":
                raise SettingsError(
                    f"Set {PREFIX}ENCRYPTION_KEYS: production never stores credentials under a generated key."
                )
            raw_keys = _instance_encryption_key(instance_path)
        base_url = get("BASE_URL")
        if base_url is None and environment == "production":
            raise SettingsError(
                f"Set {PREFIX}BASE_URL to the address people reach this installation at (like "
                "https://app.example.com): production never guesses the address it mails in links, puts in "
                "tracking snippets and gives platforms for their webhooks."
            )
        poll = get("PLATFORM_POLL_SECONDS", "300") or "300"
        if not poll.isdigit() or int(poll) < 10:
            raise SettingsError(f"{PREFIX}PLATFORM_POLL_SECONDS must be a whole number of seconds, 10 or more")
        retention = get("EVENT_RETENTION_DAYS", "761") or "761"
        if not retention.isdigit() or int(retention) < 1:
            raise SettingsError(f"{PREFIX}EVENT_RETENTION_DAYS must be a whole number of days, 1 or more")
        trusted_proxies = _whole_number("TRUSTED_PROXIES", get("TRUSTED_PROXIES", "0") or "0", 0)
        idle = _whole_number("SESSION_IDLE_TIMEOUT_SECONDS", get("SESSION_IDLE_TIMEOUT_SECONDS") or "43200", 60)
        absolute = _whole_number(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS", get("SESSION_ABSOLUTE_TIMEOUT_SECONDS") or "2592000", 60
        )
        niceness = _whole_number("WORKER_NICENESS", get("WORKER_NICENESS") or "10", 0)
        if niceness > MAX_NICENESS:
            raise SettingsError(f"{PREFIX}WORKER_NICENESS must be {MAX_NICENESS} at most")
        api_urls = {
            match.group(1).lower(): value.rstrip("/")
            for name, value in environ.items()
            if (match := _API_URL_VARIABLE.match(name)) and value
        }
        return cls(
            database_url=get("DATABASE_URL") or f"sqlite:///{instance_path / 'coursesignal.db'}",
            redis_url=get("REDIS_URL"),
            base_url=(base_url or served_address(DEFAULT_HOST, DEFAULT_PORT)).rstrip("/"),
            base_url_chosen=base_url is not None,
            instance_path=instance_path,
            environment=environment,
            secret_key=secret_key,
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            smtp_url=get("SMTP_URL"),
            mail_from=get("MAIL_FROM") or cls.mail_from,
            stripe_secret_key=environ.get("STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=environ.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_price_id=environ.get("STRIPE_PRICE_ID") or None,
            stripe_api_base=(get("STRIPE_API_BASE") or "").rstrip("/") or None,
            operator_email=get("OPERATOR_EMAIL"),
            encryption_keys=_encryption_keys(raw_keys),
            platform_api_urls=api_urls,
            platform_poll_seconds=int(poll),
            event_retention_days=int(retention),
            trusted_proxies=trusted_proxies,
            session_idle_timeout_seconds=idle,
            session_absolute_timeout_seconds=absolute,
            worker_niceness=niceness,
        )
