"""Driving the real web forms from Flask's test client: CSRF tokens, the outbox, a verified sign-in."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path
from typing import Any

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+")


def csrf_token(client: Any, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post_form(client: Any, path: str, data: dict[str, Any], *, form_page: str | None = None, **kwargs: Any) -> Any:
    """POST like a browser: first GET the page that shows the form, for its CSRF token."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def outbox_messages(outbox: Path) -> list[email.message.EmailMessage]:
    if not outbox.exists():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


def mail_body(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def links_in(message: email.message.EmailMessage) -> list[str]:
    return _LINK.findall(mail_body(message))


def last_mail_to(outbox: Path, address: str) -> email.message.EmailMessage:
    found = [m for m in outbox_messages(outbox) if m["To"] == address]
    assert found, f"no mail to {address} in {outbox}"
    return found[-1]


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def sign_up_and_verify(client: Any, outbox: Path, address: str, password: str = PASSWORD) -> Any:
    """Sign up through the forms and follow the mailed link; the client ends signed in."""
    response = post_form(client, "/signup", {"email": address, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    link = links_in(last_mail_to(outbox, address))[0]
    return client.get(path_of(link))
