"""What CourseSignal accepts as a password: long enough, and not one everybody tries first."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

MIN_LENGTH = 10
MAX_LENGTH = 256  # hashing a megabyte "password" is a cheap denial of service


class WeakPassword(ValueError):
    """`str(error)` is the sentence shown to the person choosing the password."""


@cache
def common_passwords() -> frozenset[str]:
    text = files("core.domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, email: str = "") -> None:
    """Raise WeakPassword saying what to change; return quietly when the password is acceptable."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters; a short phrase of a few words works well.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!.") in common_passwords():
        raise WeakPassword("That password is one of the most common ones and is guessed first; choose another.")
    local_part = email.partition("@")[0].lower()
    if local_part and len(local_part) >= 4 and local_part in lowered and len(lowered) - len(local_part) < 4:
        raise WeakPassword("Your password should not be built from your email address; choose another.")
    if len(set(password)) < 4:
        raise WeakPassword("That password repeats too few characters; choose one that is harder to guess.")
