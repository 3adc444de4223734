"""`coursesignal privacy`: data subject requests (export, erase) and retention, see docs/privacy.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from coursesignal.cli_context import CliContext, account_id_of, pass_context, write_json


@click.group()
def privacy() -> None:
    """Data subject requests (export, erase) and retention; see docs/privacy.md."""


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
    ctx: CliContext, account_email: str, email: str | None, visitor_key: str | None, output: Path | None
) -> None:
    """Everything the creator's account holds about one student, as JSON."""
    from core.services.privacy import PersonNotFound, PrivacyRequestInvalid

    account_id = account_id_of(ctx, account_email)
    try:
        payload = ctx.container.services.privacy().export_person(account_id, email=email, visitor_key=visitor_key)
    except (PrivacyRequestInvalid, PersonNotFound) as error:
        raise click.ClickException(str(error)) from None
    write_json(payload, output)


@privacy.command("erase")
@_person
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def privacy_erase(ctx: CliContext, account_email: str, email: str | None, visitor_key: str | None, yes: bool) -> None:
    """Erase one student from the creator's account: visits, events, identities; purchases lose the buyer."""
    from core.services.privacy import PrivacyRequestInvalid

    account_id = account_id_of(ctx, account_email)
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
def privacy_export_account(ctx: CliContext, account_email: str, output: Path | None) -> None:
    """Everything held for a creator's own account, as JSON (secrets left out)."""
    write_json(ctx.container.services.privacy().export_account(account_id_of(ctx, account_email)), output)


@privacy.command("delete-expired-events")
@pass_context
def privacy_delete_expired_events(ctx: CliContext) -> None:
    """Delete raw tracker events older than COURSESIGNAL_EVENT_RETENTION_DAYS now (the worker does it daily)."""
    count = ctx.container.services.privacy().delete_expired_events()
    click.echo(f"Deleted {count} tracker events older than {ctx.settings.event_retention_days} days.")
