"""Absolute URLs for mailed links, built from the configured base URL so they work outside a request."""

from __future__ import annotations


class WebAccountLinks:
    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")

    def verify_email(self, token: str) -> str:
        return f"{self._base}/verify/{token}"

    def reset_password(self, token: str) -> str:
        return f"{self._base}/reset/{token}"

    def confirm_email_change(self, token: str) -> str:
        return f"{self._base}/account/email/{token}"

    def login(self) -> str:
        return f"{self._base}/login"

    def forgot_password(self) -> str:
        return f"{self._base}/reset"
