"""Daily fingerprint salts: made on first use each day, kept in the database, destroyed after 48 hours."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from core.domain.fingerprints import SALT_LIFETIME, derived_visitor_key, fingerprint, salt_day
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork


class FingerprintSalts:
    """Today's salt, shared by every process through the database and cached in memory for the day."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[datetime, bytes] | None = None

    def current(self) -> bytes:
        day = salt_day(self._clock.now())
        with self._lock:
            if self._cached is not None and self._cached[0] == day:
                return self._cached[1]
            with self._uow() as uow:
                salt = uow.fingerprint_salts.for_day(day)
                if salt is None:
                    uow.fingerprint_salts.add(day, secrets.token_bytes(16))
                    salt = uow.fingerprint_salts.for_day(day)
                # A salt is destroyed 48 hours after its day began: nobody can rebuild an old fingerprint.
                uow.fingerprint_salts.delete_older_than(self._clock.now() - SALT_LIFETIME)
                uow.commit()
            assert salt is not None
            self._cached = (day, salt)
            return salt

    def fingerprint(self, *, address: str | None, user_agent: str | None, language: str | None) -> str | None:
        return fingerprint(self.current(), address=address, user_agent=user_agent, language=language)

    def derived_visitor_key(self, *, address: str | None, user_agent: str | None, site_key: str) -> str | None:
        return derived_visitor_key(self.current(), address=address, user_agent=user_agent, site_key=site_key)
