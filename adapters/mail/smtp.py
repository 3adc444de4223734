"""Production mail: SMTP, configured by one URL.

`smtp://user:password@host:587?starttls=true` upgrades with STARTTLS; `smtps://...:465` speaks TLS from
the start; `smtp://host:25` sends in the clear (a local relay).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.mail.message import build_message
from core.ports.mailer import Mail, MailError

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://user:password@host:587?starttls=true")
        options = parse_qs(parts.query)
        implicit_tls = parts.scheme == "smtps"
        starttls = options.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 587 if starttls else 25),
            implicit_tls=implicit_tls,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        self._target = SmtpTarget.from_url(url)
        self._sender = sender

    def send(self, mail: Mail) -> None:
        target = self._target
        message = build_message(mail, self._sender)
        try:
            if target.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    target.host, target.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
            with client:
                if target.starttls:
                    client.starttls(context=ssl.create_default_context())
                if target.username:
                    client.login(target.username, target.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            log.error(
                "mail to %s: %r not sent through %s:%s: %s", mail.to, mail.subject, target.host, target.port, error
            )
            raise MailError(f"SMTP delivery failed: {error}") from error
        log.info("mail to %s: %r sent through %s:%s", mail.to, mail.subject, target.host, target.port)
