"""A domain Mail as an RFC 5322 message."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.ports.mailer import Mail


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message.set_content(mail.text)
    return message
