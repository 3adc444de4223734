"""The composition root: the only place that decides which adapter stands behind each port."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

from dependency_injector import containers, providers
from flask import Flask

from adapters.billing.notifications import MailingBillingNotifier
from adapters.billing.stripe_checkout import StripeBilling
from adapters.clock import SystemClock
from adapters.jobs.in_process import InProcessJobQueue
from adapters.jobs.rq_queue import RqJobQueue, connect_redis
from adapters.mail.background import BackgroundMailer
from adapters.mail.outbox import OutboxMailer
from adapters.mail.smtp import SmtpMailer
from adapters.persistence.database import create_database_engine
from adapters.persistence.inbox import GroupCommitInbox
from adapters.persistence.metrics_queries import SqlMetricsQueries
from adapters.persistence.personal_data import SqlPersonalDataReader
from adapters.persistence.queries import SqlReportQueries
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.platforms import kajabi
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from adapters.platforms.webhook_auth import UrlTokenAuth
from adapters.rate_limiters import InMemoryRateLimiter
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.fernet_cipher import FernetTokenCipher
from adapters.security.signed_tokens import SignedLinkTokens
from adapters.structured_logs import configure_logging
from adapters.web.app import create_app
from adapters.web.health import Readiness
from adapters.web.links import WebAccountLinks
from core.services.accounts import Accounts
from core.services.attribution import Attribution
from core.services.beta import Beta
from core.services.billing_notices import TRIAL_NOTICES_EVERY_SECONDS, TRIAL_NOTICES_TASK
from core.services.connections import DELIVERY_SWEEP_SECONDS, DELIVERY_SWEEP_TASK, POLL_ALL_TASK, Connections
from core.services.feature_usage import FeatureUsage
from core.services.fingerprints import FingerprintSalts
from core.services.metrics import Metrics
from core.services.onboarding import Onboarding
from core.services.privacy import RETENTION_EVERY_SECONDS, RETENTION_TASK, Privacy
from core.services.purchases import Purchases
from core.services.reports import Reports
from core.services.source_rules import SourceRules
from core.services.subscriptions import Subscriptions
from core.services.tracking import SWEEP_SECONDS, SWEEP_TASK, Tracking
from coursesignal.settings import Settings

DEFAULT_QUEUE = "coursesignal"


def periodic_tasks(settings: Settings) -> tuple[tuple[str, int], ...]:
    """The jobs that run every so many seconds, wherever jobs run: the tracker and webhook sweeps (work whose
    job was lost), the platform poll, the daily retention and the trial notices."""
    return (
        (SWEEP_TASK, SWEEP_SECONDS),
        (DELIVERY_SWEEP_TASK, DELIVERY_SWEEP_SECONDS),
        (POLL_ALL_TASK, settings.platform_poll_seconds),
        (RETENTION_TASK, RETENTION_EVERY_SECONDS),
        (TRIAL_NOTICES_TASK, TRIAL_NOTICES_EVERY_SECONDS),
    )


# Modules whose functions receive services through `Provide["..."]` markers.
WIRED_PACKAGES = ["adapters.web", "adapters.jobs"]


class Gateways(containers.DeclarativeContainer):
    config = providers.Configuration()

    engine = providers.Singleton(create_database_engine, config.database_url)
    unit_of_work = providers.Factory(SqlUnitOfWork, engine=engine)
    inbox = providers.Singleton(GroupCommitInbox, engine=engine)
    report_queries = providers.Singleton(SqlReportQueries, engine=engine)
    metrics_queries = providers.Singleton(SqlMetricsQueries, engine=engine)
    personal_data = providers.Singleton(SqlPersonalDataReader, engine=engine)
    clock = providers.Singleton(SystemClock)
    redis = providers.Selector(
        config.job_backend,
        rq=providers.Singleton(connect_redis, config.redis_url),
        in_process=providers.Object(None),
    )
    # The collect endpoint's limits, in process even with Redis (adapters/rate_limiters.py says why).
    rate_limiter = providers.Singleton(InMemoryRateLimiter)
    job_queue = providers.Selector(
        config.job_backend,
        rq=providers.Singleton(RqJobQueue, redis=redis, queue_name=config.queue_name),
        in_process=providers.Singleton(InProcessJobQueue),
    )
    readiness = providers.Singleton(Readiness, engine=engine, redis=redis, clock=clock, queue_name=config.queue_name)
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    signed_tokens = providers.Singleton(SignedLinkTokens, secret_key=config.secret_key, clock=clock)
    account_links = providers.Singleton(WebAccountLinks, base_url=config.base_url)
    mailer = providers.Selector(
        config.mail_backend,
        smtp=providers.Singleton(
            BackgroundMailer, inner=providers.Singleton(SmtpMailer, url=config.smtp_url, sender=config.mail_from)
        ),
        outbox=providers.Singleton(OutboxMailer, folder=config.outbox_path, sender=config.mail_from),
    )
    billing = providers.Singleton(
        StripeBilling,
        secret_key=config.stripe_secret_key,
        webhook_secret=config.stripe_webhook_secret,
        price_id=config.stripe_price_id,
        api_base=config.stripe_api_base,
    )
    billing_notifier = providers.Singleton(MailingBillingNotifier, mailer=mailer, operator_email=config.operator_email)
    token_cipher = providers.Singleton(FernetTokenCipher, keys=config.encryption_keys)
    webhook_tokens = providers.Singleton(UrlTokenAuth)


def builtin_platforms() -> tuple[ModuleType, ...]:
    """Platforms that ship with CourseSignal, registered through the same hook as any installed plugin."""
    return (kajabi,)


class Platforms(containers.DeclarativeContainer):
    config = providers.Configuration()

    plugin_manager = providers.Singleton(build_plugin_manager, builtins=providers.Callable(builtin_platforms))
    registry = providers.Singleton(PlatformRegistry, manager=plugin_manager, api_urls=config.api_urls)


class Services(containers.DeclarativeContainer):
    config = providers.Configuration()
    gateways = providers.DependenciesContainer()
    platforms = providers.DependenciesContainer()

    tracking = providers.Singleton(
        Tracking,
        uow=gateways.unit_of_work.provider,
        jobs=gateways.job_queue,
        limiter=gateways.rate_limiter,
        clock=gateways.clock,
        inbox=gateways.inbox,
    )
    attribution = providers.Singleton(Attribution, uow=gateways.unit_of_work.provider)
    fingerprint_salts = providers.Singleton(FingerprintSalts, uow=gateways.unit_of_work.provider, clock=gateways.clock)
    purchases = providers.Singleton(Purchases, uow=gateways.unit_of_work.provider, platforms=platforms.registry)
    accounts = providers.Singleton(
        Accounts,
        uow=gateways.unit_of_work.provider,
        clock=gateways.clock,
        hasher=gateways.password_hasher,
        mailer=gateways.mailer,
        tokens=gateways.signed_tokens,
        links=gateways.account_links,
    )
    onboarding = providers.Singleton(
        Onboarding, uow=gateways.unit_of_work.provider, clock=gateways.clock, platforms=platforms.registry
    )
    reports = providers.Singleton(Reports, queries=gateways.report_queries, clock=gateways.clock)
    source_rules = providers.Singleton(SourceRules, uow=gateways.unit_of_work.provider)
    metrics = providers.Singleton(
        Metrics, queries=gateways.metrics_queries, clock=gateways.clock, uow=gateways.unit_of_work.provider
    )
    beta = providers.Singleton(
        Beta,
        uow=gateways.unit_of_work.provider,
        clock=gateways.clock,
        mailer=gateways.mailer,
        signup_url=providers.Callable("{}/signup".format, config.base_url),
    )
    feature_usage = providers.Singleton(FeatureUsage, uow=gateways.unit_of_work.provider, clock=gateways.clock)
    subscriptions = providers.Singleton(
        Subscriptions,
        uow=gateways.unit_of_work.provider,
        gateway=gateways.billing,
        notifier=gateways.billing_notifier,
        clock=gateways.clock,
        billing_page_url=config.billing_page_url,
    )
    privacy = providers.Singleton(
        Privacy,
        uow=gateways.unit_of_work.provider,
        reader=gateways.personal_data,
        accounts=accounts,
        subscriptions=subscriptions,
        clock=gateways.clock,
        event_retention=providers.Factory(timedelta, days=config.event_retention_days),
    )
    connections = providers.Singleton(
        Connections,
        uow=gateways.unit_of_work.provider,
        platforms=platforms.registry,
        purchases=purchases,
        cipher=gateways.token_cipher,
        webhook_tokens=gateways.webhook_tokens,
        jobs=gateways.job_queue,
        clock=gateways.clock,
        public_base_url=config.base_url,
        mailer=gateways.mailer,
    )


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    gateways = providers.Container(Gateways, config=config)
    platforms = providers.Container(Platforms, config=config.platforms)
    services = providers.Container(Services, config=config, gateways=gateways, platforms=platforms)


def create_container(settings: Settings, *, queue_name: str = DEFAULT_QUEUE) -> Container:
    container = Container()
    container.config.from_dict(
        {
            "database_url": settings.database_url,
            "redis_url": settings.redis_url,
            "job_backend": settings.job_backend,
            "queue_name": queue_name,
            "secret_key": settings.secret_key,
            "base_url": settings.base_url,
            "mail_backend": settings.mail_backend,
            "smtp_url": settings.smtp_url,
            "mail_from": settings.mail_from,
            "outbox_path": settings.outbox_path,
            "stripe_secret_key": settings.stripe_secret_key,
            "stripe_webhook_secret": settings.stripe_webhook_secret,
            "stripe_price_id": settings.stripe_price_id,
            "stripe_api_base": settings.stripe_api_base,
            "billing_page_url": f"{settings.base_url}/billing",
            "operator_email": settings.operator_email,
            "event_retention_days": settings.event_retention_days,
            "encryption_keys": list(settings.encryption_keys),
            "platforms": {"api_urls": dict(settings.platform_api_urls)},
        }
    )
    container.wire(packages=WIRED_PACKAGES)
    return container


def build_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """The WSGI application (gunicorn: `coursesignal.container:build_app()`)."""
    settings = settings or Settings.from_environ()
    configure_logging(settings.log_level)
    container = container or create_container(settings)
    # Every installed platform plugin is loaded and checked now: a broken one stops the start (PluginError,
    # naming it) instead of failing requests later.
    container.platforms.registry().load()
    # Production cookies travel over HTTPS only; elsewhere only when the app is served over HTTPS.
    secure_cookies = settings.is_production or settings.base_url.startswith("https://")
    app = create_app(
        {
            "SECRET_KEY": settings.secret_key,
            "SESSION_COOKIE_SECURE": secure_cookies,
            "REMEMBER_COOKIE_SECURE": secure_cookies,
            "SESSION_IDLE_TIMEOUT": timedelta(seconds=settings.session_idle_timeout_seconds),
            "SESSION_ABSOLUTE_TIMEOUT": timedelta(seconds=settings.session_absolute_timeout_seconds),
            "TRUSTED_PROXIES": settings.trusted_proxies,
            "BASE_URL": settings.base_url,
            # Served over HTTPS (behind a TLS proxy in production): browsers keep to HTTPS from then on.
            "HSTS": settings.base_url.startswith("https://"),
            "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
            "RATELIMIT_KEY_PREFIX": f"{container.config.queue_name()}-limits",
            # A Stripe stand-in's hosted pages (the local fake), where the billing forms redirect.
            "EXTRA_FORM_TARGETS": [settings.stripe_api_base] if settings.stripe_api_base else [],
        }
    )
    app.extensions["coursesignal.container"] = container
    job_queue = container.gateways.job_queue()
    if isinstance(job_queue, InProcessJobQueue):
        # The embedded default runs its periodic jobs in this process; production's in `coursesignal worker`.
        for task, seconds in periodic_tasks(settings):
            job_queue.schedule_every(task, seconds)
        # Deliveries that were waiting for a retry when the app last stopped: queued again now if due, the
        # others by the sweep when their time comes (their attempts are in the database).
        job_queue.enqueue(DELIVERY_SWEEP_TASK)
    return app
