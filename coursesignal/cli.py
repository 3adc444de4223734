"""The `coursesignal` command."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import click

from adapters.simulator.demo import DEMO_DAYS, DEMO_EMAIL, DEMO_PASSWORD
from adapters.structured_logs import configure_logging
from core.domain.passwords import WeakPassword
from coursesignal.cli_admin import COMMANDS
from coursesignal.cli_context import CliContext, pass_context
from coursesignal.cli_privacy import privacy
from coursesignal.container import DEFAULT_QUEUE, build_app
from coursesignal.settings import DEFAULT_HOST, DEFAULT_PORT, Settings

DEMO_PASSWORD_VARIABLE = "COURSESIGNAL_DEMO_PASSWORD"  # noqa: S105 - the name of a variable  # nosec B105


@click.group()
@click.version_option(package_name="coursesignal")
def main() -> None:
    """CourseSignal: which channel sold the course."""
    # JSON lines on stderr; the level from COURSESIGNAL_LOG_LEVEL is applied once the settings are read.
    configure_logging("INFO")


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--demo",
    is_flag=True,
    help=f"First fill a demo account ({DEMO_EMAIL}) with weeks of simulated visitors and purchases (once).",
)
@pass_context
def run(ctx: CliContext, host: str, port: int, demo: bool) -> None:
    """Serve the app. On the embedded SQLite database, the schema and the stored attributions are brought up
    to date first."""
    from gunicorn.app.base import BaseApplication

    from core.domain.attribution import RULES_VERSION

    # Links in mail, snippets and webhook addresses follow the address served on, unless BASE_URL chose one.
    settings = ctx.settings.served_at(host, port)
    ctx.load_platforms()
    if settings.uses_sqlite:
        ctx.upgrade_database()
        if stale := ctx.container.services.attribution().reattribute_all():
            click.echo(f"Attributed {stale} purchases again under rules version {RULES_VERSION}.")
        ctx.container.gateways.engine().dispose()
    if demo:
        _prepare_demo(settings, f"{settings.base_url}/login")

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One process, so the in-process job thread and SQLite see one another; threads for concurrency.
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": 1,
                "threads": 8,
                "worker_class": "gthread",
                # No gunicorn access log: it would print webhook tokens in URLs. The app writes its own,
                # redacted, as JSON with the request id.
                "accesslog": None,
                "timeout": 60,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return build_app(settings)

    click.echo(
        f"CourseSignal on http://{host}:{port} ({'SQLite' if settings.uses_sqlite else 'PostgreSQL'}, "
        f"jobs {'on Redis' if settings.redis_url else 'in-process'}); links and snippets use {settings.base_url}"
    )
    _Server().run()


def _prepare_demo(settings: Settings, login_url: str) -> None:
    from coursesignal.demo import seed_demo

    password = os.environ.get(DEMO_PASSWORD_VARIABLE) or DEMO_PASSWORD
    click.echo(f"Preparing the demo account {DEMO_EMAIL} (the first time takes a minute or two)...")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        outcome = seed_demo(settings, password=password)
    except WeakPassword as error:
        raise click.ClickException(f"{DEMO_PASSWORD_VARIABLE} is refused: {error}") from None
    if outcome.created:
        click.echo(
            f"Filled it with {outcome.purchases} purchases and {outcome.hits} tracker hits over the last "
            f"{DEMO_DAYS} days ({time.monotonic() - started:.0f} s)."
        )
    else:
        click.echo(
            "It exists already, so nothing was added; its password is the one it was created with "
            f"(if {DEMO_PASSWORD_VARIABLE} has changed since, the one printed below is not it)."
        )
    click.echo(f"Sign in at {login_url} as {DEMO_EMAIL}, password: {password}")


@main.command()
@click.option(
    "--queue",
    "queue_name",
    default=DEFAULT_QUEUE,
    show_default=True,
    help="The RQ queue to work on. The app queues on the default; another name is for a test that queues its own.",
)
@pass_context
def worker(ctx: CliContext, queue_name: str) -> None:
    """Run an RQ worker on COURSESIGNAL_REDIS_URL, with CourseSignal's scheduler on a heartbeat.

    A job that raises is retried after 10 s, 1 min, 5 min and 30 min (RQ's Retry); the scheduler thread
    (adapters/jobs/rq_scheduler.py) moves retries and periodic runs onto the queue when they are due, and
    schedules again any periodic job found missing. Any number of workers may run: none holds a lock."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq import Worker

    from adapters.jobs.rq_queue import connect_scheduler_redis, connect_worker_redis
    from adapters.jobs.rq_scheduler import SchedulerHeartbeat
    from coursesignal.container import periodic_tasks

    if not ctx.settings.redis_url:
        raise click.ClickException("Set COURSESIGNAL_REDIS_URL: without Redis, jobs run inside `coursesignal run`.")
    ctx.queue_name = queue_name
    ctx.load_platforms()
    # Below the app's priority (COURSESIGNAL_WORKER_NICENESS): on a shared machine the web answers first.
    if ctx.settings.worker_niceness > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, ctx.settings.worker_niceness)
    redis = connect_worker_redis(ctx.settings.redis_url)
    job_queue = ctx.container.gateways.job_queue()
    scheduler = SchedulerHeartbeat(
        connect_scheduler_redis(ctx.settings.redis_url), job_queue.name, periodic_tasks(ctx.settings)
    )
    scheduler.start()
    pause = 1.0
    while True:
        try:
            # RQ cleans its registries (a killed worker's jobs back to their retries) every minute, not ten.
            Worker([job_queue.name], connection=redis, maintenance_interval=60).work(with_scheduler=False)
            scheduler.stop()
            return
        except (RedisConnectionError, RedisTimeoutError) as error:
            # Tracker events and webhook deliveries wait in the database meanwhile; the sweeper catches up.
            logging.getLogger(__name__).warning(
                "Redis unavailable (%s); the worker starts again in %.0f s", error, pause
            )
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: CliContext) -> None:
    """Apply every migration not yet applied."""
    ctx.upgrade_database()
    click.echo("Database schema is up to date.")


@main.command()
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same figures.")
@click.option(
    "--scenario",
    "scenario_name",
    default="default",
    show_default=True,
    help="A scenario name, or 'all' for every scenario and the overall figures.",
)
@click.option("--http", "over_http", is_flag=True, help="Send hits through the real /t/e endpoint (a test client).")
@click.option("--people", type=click.IntRange(min=10), default=None, help="Scale a scenario to this many people.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and stop.")
@click.option(
    "--browser",
    "browser_journeys",
    type=click.IntRange(min=1),
    default=None,
    help="Play the first N sales' journeys in chromium with the served t.js, and check the model agrees.",
)
@click.option("--chromium", default="/usr/bin/chromium", show_default=True, help="The chromium --browser drives.")
def simulate(
    seed: int,
    scenario_name: str,
    over_http: bool,
    people: int | None,
    list_only: bool,
    browser_journeys: int | None,
    chromium: str,
) -> None:
    """Run generated traffic with known truth through the real services and print how right attribution is.

    Runs on a throwaway SQLite database; nothing touches your own data.
    """
    from adapters.simulator.scenarios import SCENARIOS

    if list_only:
        for scenario in SCENARIOS.values():
            click.echo(f"{scenario.name:<20}{scenario.description}")
        return
    if scenario_name != "all" and scenario_name not in SCENARIOS:
        raise click.ClickException(f"No scenario called {scenario_name!r}; `coursesignal simulate --list` shows them.")
    logging.disable(logging.INFO)  # migrations of the throwaway databases would drown the figures
    if browser_journeys is not None:
        if scenario_name == "all" or over_http or people is not None:
            raise click.ClickException("--browser plays one scenario as it is: leave out --http, --people and 'all'.")
        from coursesignal.simulator import run_browser_scenario

        for block in run_browser_scenario(scenario_name, seed=seed, count=browser_journeys, chromium=chromium):
            click.echo(block)
        return
    from coursesignal.simulator import run_scenarios

    names = list(SCENARIOS) if scenario_name == "all" else [scenario_name]
    for block in run_scenarios(names, seed=seed, over_http=over_http, people=people):
        click.echo(block)


for command in (*COMMANDS, privacy):
    main.add_command(command)
