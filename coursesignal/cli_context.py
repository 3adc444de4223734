"""What every `coursesignal` command shares: the settings and container, built once on first use, and the
helpers that find an account by its email and print JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from coursesignal.container import DEFAULT_QUEUE, Container, create_container
from coursesignal.settings import Settings, SettingsError


class CliContext:
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


pass_context = click.make_pass_decorator(CliContext, ensure=True)


def account_id_of(ctx: CliContext, account_email: str) -> int:
    from core.domain.visitors import normalize_email

    with ctx.container.gateways.unit_of_work() as uow:
        account = uow.accounts.get_by_email(normalize_email(account_email) or "")
    if account is None or account.id is None:
        raise click.ClickException(f"No account for {account_email}; check the email the creator signed up with.")
    return account.id


def write_json(payload: object, output: Path | None) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        click.echo(f"Wrote {output}.", err=True)
