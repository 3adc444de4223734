"""The `coursesignal` command."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from adapters.simulator.demo import DEMO_DAYS, DEMO_EMAIL, DEMO_PASSWORD
from adapters.structured_logs import configure_logging
from core.domain.passwords import WeakPassword
from core.domain.sites import tracking_snippet
from core.ports.platforms import PlatformError
from coursesignal.container import DEFAULT_QUEUE, Container, build_app, create_container
from coursesignal.settings import DEFAULT_HOST, DEFAULT_PORT, Settings, SettingsError


class _Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._container: Container | None = None
        self.queue_name = DEFAULT_QUEUE

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_environ()
            except SettingsError as error:
                raise click.ClickException(str(error)) from None
            logging.getLogger().setLevel(self._settings.log_level)
        return self._settings

    @property
    def container(self) -> Container:
        if self._container is None:
            self._container = create_container(self.settings, queue_name=self.queue_name)
        return self._container

    def load_platforms(self) -> None:
        """Every installed platform plugin, loaded and checked before anything starts: one that cannot be
        loaded stops the command with one line naming it."""
        from adapters.platforms.registry import PluginError

        try:
            self.container.platforms.registry().load()
        except PluginError as error:
            raise click.ClickException(f"CourseSignal cannot start: {error}") from None

    def upgrade_database(self) -> None:
        from adapters.persistence.migrate import upgrade

        upgrade(self.container.gateways.engine())


DEMO_PASSWORD_VARIABLE = "COURSESIGNAL_DEMO_PASSWORD"  # noqa: S105 - the name of a variable  # nosec B105

pass_context = click.make_pass_decorator(_Context, ensure=True)


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
def run(ctx: _Context, host: str, port: int, demo: bool) -> None:
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
def worker(ctx: _Context, queue_name: str) -> None:
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
def db_upgrade(ctx: _Context) -> None:
    """Apply every migration not yet applied."""
    ctx.upgrade_database()
    click.echo("Database schema is up to date.")


@main.command("create-site")
@click.argument("email")
@click.option("--domain", "domains", multiple=True, required=True, help="A domain the site runs on (repeatable).")
@pass_context
def create_site(ctx: _Context, email: str, domains: tuple[str, ...]) -> None:
    """Create a site (and its account, if new); prints the site key and the snippet."""
    accounts = ctx.container.services.accounts()
    try:
        accounts.ensure_account(email)
        site = accounts.add_site(email, domains)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Site key: {site.public_key}")
    click.echo(f"Snippet:  {tracking_snippet(ctx.settings.base_url, site)}")


@main.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@pass_context
def create_token(ctx: _Context, email: str, name: str) -> None:
    """Issue a personal API token for the account; it is shown this once."""
    from core.services.accounts import UnknownAccount

    try:
        click.echo(ctx.container.services.accounts().issue_api_token(email, name))
    except UnknownAccount as error:
        raise click.ClickException(f"{error}: create it with `coursesignal create-site {email} --domain ...`") from None


@main.command("import-purchases")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "site_key", required=True, help="The site key the purchases belong to.")
@pass_context
def import_purchases(ctx: _Context, path: Path, site_key: str) -> None:
    """Import purchases from a CSV file (purchase_id,email,amount,currency,purchased_at[,course_name,visitor_id]).

    A file with a bad row is refused whole: nothing from it is stored.
    """
    site = ctx.container.services.accounts().site(site_key)
    if site is None:
        raise click.ClickException(f"No site has the key {site_key!r}.")

    def progress(done: int, total: int | None) -> None:
        click.echo(f"  read {done} rows" + (" (done)" if total is not None else ""), err=True)

    try:
        summary = ctx.container.services.purchases().import_from_platform(
            site.account_id, "csv", {"path": str(path)}, datetime(1970, 1, 1, tzinfo=UTC), progress
        )
    except PlatformError as error:
        raise click.ClickException(f"{error} Nothing from {path.name} was imported.") from None
    click.echo(f"Imported {summary.purchases_added} purchases ({summary.purchases_already_known} already known).")


@main.command("rotate-keys")
@pass_context
def rotate_keys(ctx: _Context) -> None:
    """Re-encrypt every stored credential with the first key of COURSESIGNAL_ENCRYPTION_KEYS.

    Put the new key first, keep the old ones after it, run this, then remove the old keys.
    """
    try:
        count = ctx.container.services.connections().rotate_keys()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Re-encrypted the credentials of {count} connection{'s' if count != 1 else ''} with the first key.")


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


@main.command()
@click.option("--account", "account_email", default=None, help="Only this account's purchases (its email).")
@click.option("--all", "everything", is_flag=True, help="Every purchase, not only those attributed under older rules.")
@pass_context
def reattribute(ctx: _Context, account_email: str | None, everything: bool) -> None:
    """Attribute purchases again after the attribution rules changed (RULES_VERSION)."""
    from core.domain.attribution import RULES_VERSION
    from core.domain.visitors import normalize_email

    account_id = None
    if account_email is not None:
        with ctx.container.gateways.unit_of_work() as uow:
            account = uow.accounts.get_by_email(normalize_email(account_email) or "")
        if account is None:
            raise click.ClickException(f"No account for {account_email}; check the email the creator signed up with.")
        account_id = account.id
    count = ctx.container.services.attribution().reattribute_all(account_id, force=everything)
    click.echo(f"Attributed {count} purchases again under rules version {RULES_VERSION}.")


@main.command()
@click.argument("account_email")
@click.option("--days", default=90, show_default=True, help="Look back this many days (0: all time).")
@click.option("--all", "known_too", is_flag=True, help="Also hosts that today's source lists name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def referrers(ctx: _Context, account_email: str, days: int, known_too: bool, as_json: bool) -> None:
    """The referring hosts an account's visits came from that fell through to "Referral", most visits first:
    the places the source lists do not know yet (see docs/tracking.md to add them)."""
    account_id = _account_id(ctx, account_email)
    found = ctx.container.services.reports().referral_hosts(account_id, days or None, known_too=known_too)
    rows = [
        {
            "host": f.referrer.host,
            "domain": f.domain,
            "sessions": f.referrer.sessions,
            "visitors": f.referrer.visitors,
            "last_seen": f.referrer.last_seen_at.isoformat(),
            "today": None if f.still_unknown else f"{f.today.source} ({f.today.channel})",
        }
        for f in found
    ]
    if as_json:
        _write_json(rows, None)
        return
    window = f"the last {days} days" if days else "all time"
    if not rows:
        click.echo(f"No visits fell through to Referral in {window}.")
        return
    width = max(len(row["host"]) for row in rows)
    click.echo(f"{'host':<{width}}  {'sessions':>8}  {'visitors':>8}  last seen   domain")
    for row in rows:
        line = f"{row['host']:<{width}}  {row['sessions']:>8}  {row['visitors']:>8}  {row['last_seen'][:10]}"
        click.echo(f"{line}  {row['domain']}" + (f"  (now {row['today']})" if row["today"] else ""))
    click.echo(f"{len(rows)} hosts fell through to Referral in {window}.")


@main.group()
def operator() -> None:
    """Who may see the operator console (/operator/); only this command grants it, never the web."""


@operator.command("grant")
@click.argument("email")
@pass_context
def operator_grant(ctx: _Context, email: str) -> None:
    """Let the account with this email see the operator console."""
    from core.services.accounts import UnknownAccount

    try:
        account = ctx.container.services.accounts().grant_operator(email)
    except UnknownAccount:
        raise click.ClickException(f"No account for {email}; they sign up first, then you grant it.") from None
    since = account.operator_since.isoformat() if account.operator_since else ""
    click.echo(f"{account.email} is an operator (since {since}): the console is at /operator/.")


@operator.command("revoke")
@click.argument("email")
@pass_context
def operator_revoke(ctx: _Context, email: str) -> None:
    """Take the operator console away from the account; its next request there answers 404."""
    from core.services.accounts import UnknownAccount

    try:
        revoked = ctx.container.services.accounts().revoke_operator(email)
    except UnknownAccount:
        raise click.ClickException(f"No account for {email}; check the email the creator signed up with.") from None
    click.echo(f"{email} is no longer an operator." if revoked else f"{email} was not an operator; nothing changed.")


@main.group()
def beta() -> None:
    """The beta program (docs/beta.md): 60 days free, setup help, weekly feedback."""


@beta.command("invite")
@click.argument("email")
@pass_context
def beta_invite(ctx: _Context, email: str) -> None:
    """Invite an address before it signs up, or mark the account that has it as beta; mails them."""
    try:
        invited = ctx.container.services.beta().invite(email)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    address = invited.member.email
    if not invited.new:
        click.echo(f"{address} is in the beta already; nothing changed.")
    elif invited.account is None:
        click.echo(f"{address} is invited: their trial is 60 days once they sign up with this address.")
    else:
        ends = invited.account.trial_ends_at
        until = f" (free until {ends:%Y-%m-%d})" if ends else " (60 days free once the address is confirmed)"
        click.echo(f"{address} is now a beta member{until}.")


@main.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First UTC day the figures cover (YYYY-MM-DD); default: the last 90 days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_context
def metrics(ctx: _Context, since: datetime | None, as_json: bool) -> None:
    """The business metrics across all accounts, against the product's goals (definitions: docs/metrics.md)."""
    report = ctx.container.services.metrics().report(since.date() if since else None)
    if as_json:
        _write_json(report.as_dict(), None)
        return
    click.echo(f"CourseSignal metrics from {report.since} to {report.as_of:%Y-%m-%d %H:%M} UTC")
    states = ", ".join(f"{state.replace('_', ' ')} {count}" for state, count in report.accounts_by_state.items())
    click.echo(f"Accounts: {states}")
    click.echo(f"MRR: {report.mrr.format_major()} {report.mrr.currency}")
    for name, value, goal in report.goals():
        shown = "n/a" if value is None else str(value) if isinstance(value, int) else f"{value:.1%}"
        target = str(int(goal.target)) if goal.target >= 1 else f"{goal.target:.0%}"
        verdict = {True: "met", False: "not met", None: "nothing to measure yet"}[goal.met(value)]
        click.echo(f"  {name}: {shown} (goal {'< ' if goal.below else ''}{target}: {verdict})")
    for cohort in report.cohorts:
        click.echo(f"  signed up {cohort.month}: {cohort.paid} of {cohort.trials} trials paid")
    for month in report.churn:
        click.echo(f"  churn {month.month}: {month.churned} of {month.paying_at_start} paying accounts")
    for platform in report.connections:
        errors = "; ".join(f"{error} ({count})" for error, count in platform.common_errors) or "none"
        click.echo(
            f"  {platform.platform}: {platform.succeeded} of {platform.attempts} attempts succeeded, "
            f"{platform.first_try_succeeded} of {platform.first_tries} first tries; errors: {errors}"
        )
    hours = report.median_hours_to_first_sale
    click.echo(f"Median signup to first attributed purchase: {'n/a' if hours is None else f'{hours:.1f} h'}")
    click.echo(
        f"Events {sum(d.events for d in report.days)}, purchases {sum(d.purchases for d in report.days)} "
        f"over {len(report.days)} days"
    )
    failed = report.failed_deliveries
    click.echo(f"Failed deliveries waiting: {failed.waiting} on {failed.accounts} accounts ({failed.since} since)")


@main.group()
def privacy() -> None:
    """Data subject requests (export, erase) and retention; see docs/privacy.md."""


def _account_id(ctx: _Context, account_email: str) -> int:
    from core.domain.visitors import normalize_email

    with ctx.container.gateways.unit_of_work() as uow:
        account = uow.accounts.get_by_email(normalize_email(account_email) or "")
    if account is None or account.id is None:
        raise click.ClickException(f"No account for {account_email}; check the email the creator signed up with.")
    return account.id


def _write_json(payload: object, output: Path | None) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"Wrote {output}.", err=True)


_person_options = [
    click.argument("account_email"),
    click.option("--email", default=None, help="The student's email address."),
    click.option("--visitor-id", "visitor_key", default=None, help="Or the visitor id their browser keeps."),
]


def _person(function: Any) -> Any:
    for option in reversed(_person_options):
        function = option(function)
    return function


@privacy.command("export")
@_person
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@pass_context
def privacy_export(
    ctx: _Context, account_email: str, email: str | None, visitor_key: str | None, output: Path | None
) -> None:
    """Everything the creator's account holds about one student, as JSON."""
    from core.services.privacy import PersonNotFound, PrivacyRequestInvalid

    account_id = _account_id(ctx, account_email)
    try:
        payload = ctx.container.services.privacy().export_person(account_id, email=email, visitor_key=visitor_key)
    except (PrivacyRequestInvalid, PersonNotFound) as error:
        raise click.ClickException(str(error)) from None
    _write_json(payload, output)


@privacy.command("erase")
@_person
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def privacy_erase(ctx: _Context, account_email: str, email: str | None, visitor_key: str | None, yes: bool) -> None:
    """Erase one student from the creator's account: visits, events, identities; purchases lose the buyer."""
    from core.services.privacy import PrivacyRequestInvalid

    account_id = _account_id(ctx, account_email)
    if not yes:
        click.confirm("Erase this person for good? Their purchases stay, without them", abort=True)
    try:
        report = ctx.container.services.privacy().erase_person(account_id, email=email, visitor_key=visitor_key)
    except PrivacyRequestInvalid as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Erased {report.visitors_erased} browsers, detached the buyer from {report.purchases_detached} purchases, "
        f"attributed {report.purchases_reattributed} others again (request {report.request_id})."
    )


@privacy.command("export-account")
@click.argument("account_email")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@pass_context
def privacy_export_account(ctx: _Context, account_email: str, output: Path | None) -> None:
    """Everything held for a creator's own account, as JSON (secrets left out)."""
    _write_json(ctx.container.services.privacy().export_account(_account_id(ctx, account_email)), output)


@privacy.command("delete-expired-events")
@pass_context
def privacy_delete_expired_events(ctx: _Context) -> None:
    """Delete raw tracker events older than COURSESIGNAL_EVENT_RETENTION_DAYS now (the worker does it daily)."""
    count = ctx.container.services.privacy().delete_expired_events()
    click.echo(f"Deleted {count} tracker events older than {ctx.settings.event_retention_days} days.")
