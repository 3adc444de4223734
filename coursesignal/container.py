"""The composition root: the only place that decides which adapter stands behind each port."""

from __future__ import annotations

from dependency_injector import containers, providers
from flask import Flask

from adapters.clock import SystemClock
from adapters.jobs.in_process import InProcessJobQueue
from adapters.jobs.rq_queue import RqJobQueue, connect_redis
from adapters.persistence.database import create_database_engine
from adapters.persistence.queries import SqlReportQueries
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from adapters.web.app import create_app
from adapters.web.health import Readiness
from core.services.accounts import Accounts
from core.services.attribution import Attribution
from core.services.fingerprints import FingerprintSalts
from core.services.purchases import Purchases
from core.services.reports import Reports
from core.services.tracking import Tracking
from coursesignal.settings import Settings

# Modules whose functions receive services through `Provide["..."]` markers.
WIRED_PACKAGES = ["adapters.web", "adapters.jobs"]


class Gateways(containers.DeclarativeContainer):
    config = providers.Configuration()

    engine = providers.Singleton(create_database_engine, config.database_url)
    unit_of_work = providers.Factory(SqlUnitOfWork, engine=engine)
    report_queries = providers.Singleton(SqlReportQueries, engine=engine)
    clock = providers.Singleton(SystemClock)
    redis = providers.Selector(
        config.job_backend,
        rq=providers.Singleton(connect_redis, config.redis_url),
        in_process=providers.Object(None),
    )
    job_queue = providers.Selector(
        config.job_backend,
        rq=providers.Singleton(RqJobQueue, redis=redis, queue_name=config.queue_name),
        in_process=providers.Singleton(InProcessJobQueue),
    )
    readiness = providers.Singleton(Readiness, engine=engine, redis=redis)


class Platforms(containers.DeclarativeContainer):
    plugin_manager = providers.Singleton(build_plugin_manager)
    registry = providers.Singleton(PlatformRegistry, manager=plugin_manager)


class Services(containers.DeclarativeContainer):
    gateways = providers.DependenciesContainer()
    platforms = providers.DependenciesContainer()

    tracking = providers.Singleton(Tracking, uow=gateways.unit_of_work.provider, jobs=gateways.job_queue)
    attribution = providers.Singleton(Attribution, uow=gateways.unit_of_work.provider)
    fingerprint_salts = providers.Singleton(FingerprintSalts, uow=gateways.unit_of_work.provider, clock=gateways.clock)
    purchases = providers.Singleton(Purchases, uow=gateways.unit_of_work.provider, platforms=platforms.registry)
    accounts = providers.Singleton(Accounts, uow=gateways.unit_of_work.provider, clock=gateways.clock)
    reports = providers.Singleton(Reports, queries=gateways.report_queries, clock=gateways.clock)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    gateways = providers.Container(Gateways, config=config)
    platforms = providers.Container(Platforms)
    services = providers.Container(Services, gateways=gateways, platforms=platforms)


def create_container(settings: Settings, *, queue_name: str = "coursesignal") -> Container:
    container = Container()
    container.config.from_dict(
        {
            "database_url": settings.database_url,
            "redis_url": settings.redis_url,
            "job_backend": settings.job_backend,
            "queue_name": queue_name,
        }
    )
    container.wire(packages=WIRED_PACKAGES)
    return container


def build_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """The WSGI application (gunicorn: `coursesignal.container:build_app()`)."""
    settings = settings or Settings.from_environ()
    container = container or create_container(settings)
    app = create_app(
        {
            "SECRET_KEY": settings.secret_key,
            "SESSION_COOKIE_SECURE": settings.base_url.startswith("https://"),
            "BASE_URL": settings.base_url,
        }
    )
    app.extensions["coursesignal.container"] = container
    return app
