"""Mail through a real SMTP server (aiosmtpd on localhost), and the outbox folder of the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.mail.outbox import OutboxMailer
from adapters.mail.smtp import SmtpMailer, SmtpTarget
from core.ports.mailer import Mail, MailError
from tests.fakes.smtp_server import smtp_server
from tests.web_session import PASSWORD, links_in, mail_body, path_of, post_form

SENDER = "CourseSignal <no-reply@coursesignal.test>"


def test_the_smtp_url_is_read_with_its_options() -> None:
    target = SmtpTarget.from_url("smtp://user%40x:p%2Fss@mail.example.com:2525?starttls=true")
    assert (target.host, target.port, target.starttls, target.implicit_tls) == ("mail.example.com", 2525, True, False)
    assert (target.username, target.password) == ("user@x", "p/ss")
    assert "p/ss" not in repr(target)
    assert SmtpTarget.from_url("smtps://mail.example.com").port == 465
    assert SmtpTarget.from_url("smtp://relay.local").port == 25
    with pytest.raises(ValueError, match="smtp://"):
        SmtpTarget.from_url("http://mail.example.com")


def test_smtp_delivers_with_login() -> None:
    with smtp_server("mailer", "s3cret") as (inbox, port):
        SmtpMailer(f"smtp://mailer:s3cret@127.0.0.1:{port}", SENDER).send(
            Mail(to="creator@example.com", subject="Hello", text="Body line\n")
        )
        [message] = inbox.wait_for(1)
    assert inbox.logins == ["mailer"]
    assert inbox.envelopes == [("no-reply@coursesignal.test", ["creator@example.com"])]
    assert message["Subject"] == "Hello"
    assert mail_body(message).strip() == "Body line"


def test_a_refused_login_is_a_mail_error() -> None:
    with smtp_server("mailer", "s3cret") as (_, port), pytest.raises(MailError):
        SmtpMailer(f"smtp://mailer:wrong@127.0.0.1:{port}", SENDER).send(Mail("a@example.com", "x", "y"))


def test_an_unreachable_server_is_a_mail_error() -> None:
    with smtp_server() as (_, port):
        pass  # stopped: nothing listens on the port any more
    with pytest.raises(MailError):
        SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER).send(Mail("a@example.com", "x", "y"))


def test_the_outbox_writes_one_eml_per_message(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", SENDER)
    with caplog.at_level("INFO"):
        mailer.send(Mail("a@example.com", "First", "one"))
        mailer.send(Mail("b@example.com", "Second", "two"))
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert b"Subject: First" in files[0].read_bytes()
    assert "mail to a@example.com" in caplog.text
    assert "one" not in caplog.text.split("saved in")[0].split("First")[1]  # the body stays out of the log


@pytest.fixture
def smtp_app(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from coursesignal.container import build_app, create_container

    with smtp_server() as (inbox, port):
        smtp_settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")
        container = create_container(smtp_settings)
        app = build_app(smtp_settings, container)
        app.config["TESTING"] = True
        yield app, inbox
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()


def test_signup_mail_arrives_over_smtp_and_its_link_verifies(smtp_app, settings) -> None:  # type: ignore[no-untyped-def]
    app, inbox = smtp_app
    client = app.test_client()
    post_form(client, "/signup", {"email": "creator@example.com", "password": PASSWORD})
    [message] = inbox.wait_for(1)
    assert message["To"] == "creator@example.com"
    assert not settings.outbox_path.exists()
    link = links_in(message)[0]
    assert link.startswith(settings.base_url + "/verify/")
    response = client.get(path_of(link))
    assert response.headers["Location"] == "/onboarding"
    assert client.get("/dashboard").status_code == 200


def test_background_delivery_returns_at_once_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    from adapters.mail.background import BackgroundMailer

    with smtp_server() as (inbox, port):
        mailer = BackgroundMailer(SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER))
        mailer.send(Mail("a@example.com", "Queued", "body"))
        mailer.wait_until_sent()
        assert [m["Subject"] for m in inbox.messages] == ["Queued"]
    broken = BackgroundMailer(SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER))  # the server is gone now
    broken.send(Mail("b@example.com", "Lost", "body"))  # no error in the request
    broken.wait_until_sent()
    broken.stop()
    mailer.stop()
    assert "mail to b@example.com: 'Lost' was not delivered" in caplog.text
