"""The embedded default: every message is written as an .eml file in instance/outbox and logged in one line."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from adapters.mail.message import build_message
from core.ports.mailer import Mail, MailError

log = logging.getLogger(__name__)


class OutboxMailer:
    def __init__(self, folder: Path, sender: str) -> None:
        self._folder = Path(folder)
        self._sender = sender
        self._lock = threading.Lock()
        self._count = 0

    def send(self, mail: Mail) -> None:
        message: EmailMessage = build_message(mail, self._sender)
        with self._lock:
            self._count += 1
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{self._count:04d}.eml"
        path = self._folder / name
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(message))
        except OSError as error:
            raise MailError(f"could not write {path}: {error}") from error
        log.info("mail to %s: %r saved in %s", mail.to, mail.subject, path)
