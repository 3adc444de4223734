from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class MailError(Exception):
    """The mail could not be handed over; the detail is for the log, never for the person."""


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Hand the message over for delivery; raise MailError when that fails."""
        ...
