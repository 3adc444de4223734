"""The operator's `coursesignal` commands: sites and tokens, purchases imported from a file, key rotation,
re-attribution, referrers, operators and beta members, and the business metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from core.domain.sites import tracking_snippet
from core.ports.platforms import PlatformError
from coursesignal.cli_context import CliContext, account_id_of, pass_context, write_json


@click.command("create-site")
@click.argument("email")
@click.option("--domain", "domains", multiple=True, required=True, help="A domain the site runs on (repeatable).")
@pass_context
def create_site(ctx: CliContext, email: str, domains: tuple[str, ...]) -> None:
    """Create a site (and its account, if new); prints the site key and the snippet."""
    accounts = ctx.container.services.accounts()
    try:
        accounts.ensure_account(email)
        site = accounts.add_site(email, domains)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Site key: {site.public_key}")
    click.echo(f"Snippet:  {tracking_snippet(ctx.settings.base_url, site)}")


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@pass_context
def create_token(ctx: CliContext, email: str, name: str) -> None:
    """Issue a personal API token for the account; it is shown this once."""
    from core.services.accounts import UnknownAccount

    try:
        click.echo(ctx.container.services.accounts().issue_api_token(email, name))
    except UnknownAccount as error:
        raise click.ClickException(f"{error}: create it with `coursesignal create-site {email} --domain ...`") from None


@click.command("import-purchases")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "site_key", required=True, help="The site key the purchases belong to.")
@pass_context
def import_purchases(ctx: CliContext, path: Path, site_key: str) -> None:
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


@click.command("rotate-keys")
@pass_context
def rotate_keys(ctx: CliContext) -> None:
    """Re-encrypt every stored credential with the first key of COURSESIGNAL_ENCRYPTION_KEYS.

    Put the new key first, keep the old ones after it, run this, then remove the old keys.
    """
    try:
        count = ctx.container.services.connections().rotate_keys()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Re-encrypted the credentials of {count} connection{'s' if count != 1 else ''} with the first key.")


@click.command()
@click.option("--account", "account_email", default=None, help="Only this account's purchases (its email).")
@click.option("--all", "everything", is_flag=True, help="Every purchase, not only those attributed under older rules.")
@pass_context
def reattribute(ctx: CliContext, account_email: str | None, everything: bool) -> None:
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


@click.command()
@click.argument("account_email")
@click.option("--days", default=90, show_default=True, help="Look back this many days (0: all time).")
@click.option("--all", "known_too", is_flag=True, help="Also hosts that today's source lists name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def referrers(ctx: CliContext, account_email: str, days: int, known_too: bool, as_json: bool) -> None:
    """The referring hosts an account's visits came from that fell through to "Referral", most visits first:
    the places the source lists do not know yet (see docs/tracking.md to add them)."""
    account_id = account_id_of(ctx, account_email)
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
        write_json(rows, None)
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


@click.group()
def operator() -> None:
    """Who may see the operator console (/operator/); only this command grants it, never the web."""


@operator.command("grant")
@click.argument("email")
@pass_context
def operator_grant(ctx: CliContext, email: str) -> None:
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
def operator_revoke(ctx: CliContext, email: str) -> None:
    """Take the operator console away from the account; its next request there answers 404."""
    from core.services.accounts import UnknownAccount

    try:
        revoked = ctx.container.services.accounts().revoke_operator(email)
    except UnknownAccount:
        raise click.ClickException(f"No account for {email}; check the email the creator signed up with.") from None
    click.echo(f"{email} is no longer an operator." if revoked else f"{email} was not an operator; nothing changed.")


@click.group()
def beta() -> None:
    """The beta program (docs/beta.md): 60 days free, setup help, weekly feedback."""


@beta.command("invite")
@click.argument("email")
@pass_context
def beta_invite(ctx: CliContext, email: str) -> None:
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


@click.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First UTC day the figures cover (YYYY-MM-DD); default: the last 90 days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_context
def metrics(ctx: CliContext, since: datetime | None, as_json: bool) -> None:
    """The business metrics across all accounts, against the product's goals (definitions: docs/metrics.md)."""
    report = ctx.container.services.metrics().report(since.date() if since else None)
    if as_json:
        write_json(report.as_dict(), None)
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
    beta = report.beta
    click.echo(
        f"Beta: {beta.invited} invited, {beta.joined} joined, {beta.paid} paid; setup help {beta.setup_help_open} "
        f"open, {beta.setup_help_closed} closed; {beta.feedback_answers} feedback answers from "
        f"{beta.feedback_accounts} members; {beta.testimonial_consents} testimonial consents"
    )
    for used in report.feature_usage:
        click.echo(
            f"  used {used.feature}: {used.uses} times by {used.accounts} accounts on {used.account_days} account-days"
        )


COMMANDS = (
    create_site,
    create_token,
    import_purchases,
    rotate_keys,
    reattribute,
    referrers,
    operator,
    beta,
    metrics,
)
