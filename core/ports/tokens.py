from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class BadToken(Exception):
    """The token is forged, damaged or meant for something else."""


class ExpiredToken(BadToken):
    """The token is genuine but older than it may be."""


class SignedTokens(Protocol):
    """Tamper-proof, timestamped tokens for links sent by mail (verification, reset, email change)."""

    def issue(self, purpose: str, payload: Mapping[str, str | int]) -> str: ...

    def read(self, purpose: str, token: str, max_age_seconds: int) -> dict[str, str | int]:
        """The payload; raises ExpiredToken when too old, BadToken when not ours or not for `purpose`."""
        ...


class AccountLinks(Protocol):
    """Absolute URLs of the pages a mailed token opens: the web adapter knows its routes, core does not."""

    def verify_email(self, token: str) -> str: ...
    def reset_password(self, token: str) -> str: ...
    def confirm_email_change(self, token: str) -> str: ...
    def login(self) -> str: ...
    def forgot_password(self) -> str: ...
