"""The operator role: granted and revoked from the command line only; the console 404s to everyone else."""

from __future__ import annotations

from click.testing import CliRunner

from coursesignal.cli import main
from coursesignal.cli_context import CliContext
from tests.conftest import sign_in


def _cli(settings, container):  # type: ignore[no-untyped-def]
    """The `coursesignal` command on the test's own container (its database and clock)."""
    context = CliContext()
    context._settings = settings
    context._container = container
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), obj=context)


def test_only_the_command_line_makes_an_operator_and_revoking_hides_the_console_at_once(
    app, container, settings
) -> None:  # type: ignore[no-untyped-def]
    cli = _cli(settings, container)
    creator = app.test_client()
    sign_in(creator, container, "olga@example.com")
    assert creator.get("/operator/").status_code == 404

    granted = cli("operator", "grant", "Olga@Example.com")
    assert granted.exit_code == 0, granted.output
    assert "olga@example.com is an operator" in granted.output
    page = creator.get("/operator/")
    assert page.status_code == 200
    assert "Operator console" in page.get_data(as_text=True)

    again = cli("operator", "grant", "olga@example.com")
    assert again.exit_code == 0
    assert again.output.split("since ")[1] == granted.output.split("since ")[1]  # the first date is kept

    revoked = cli("operator", "revoke", "olga@example.com")
    assert revoked.exit_code == 0, revoked.output
    assert "no longer an operator" in revoked.output
    assert creator.get("/operator/").status_code == 404  # the same session, the very next request
    assert "was not an operator" in cli("operator", "revoke", "olga@example.com").output


def test_granting_an_unknown_address_says_what_to_do(container, settings) -> None:  # type: ignore[no-untyped-def]
    cli = _cli(settings, container)
    for command in ("grant", "revoke"):
        result = cli("operator", command, "nobody@example.com")
        assert result.exit_code != 0
        assert "No account for nobody@example.com" in result.output


def test_the_console_answers_404_to_anonymous_visitors_and_creators(app, container) -> None:  # type: ignore[no-untyped-def]
    anonymous, creator = app.test_client(), app.test_client()
    sign_in(creator, container, "creator@example.com")
    for client in (anonymous, creator):
        # Without the slash too: no redirect that would tell a stranger something lives there.
        for path in ("/operator/", "/operator"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "Operator" not in response.get_data(as_text=True)
