"""The one place that calls the platform hooks, and the boundary every platform's output crosses.

At start the registry loads every installed plugin and checks what its hook returns, refusing to start with
one line naming the plugin and the reason. Afterwards it hands out each platform wrapped in a
`CheckedPlatform`: every record a platform returns is checked before anything is stored, and a plugin's
unexpected exception becomes a `PlatformError` of that platform alone, so one broken plugin harms only its
own connections, deliveries and polls.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

import pluggy

from core.domain.purchases import record_problem
from core.ports.platforms import (
    ConnectionCheck,
    CredentialField,
    Credentials,
    InvalidRecord,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# A platform's name is part of webhook URLs and of every stored purchase (40 characters at most).
_PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class PluginError(Exception):
    """A plugin broke the contract: the message names the plugin and what is wrong, on one line."""


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


def _adapter_problem(adapter: object) -> str | None:
    """Why what a hook returned is not a usable platform, or None."""
    if not isinstance(adapter, PlatformAdapter):
        return f"returned {adapter!r:.80}, which is not a PlatformAdapter"
    name = getattr(adapter, "name", None)
    if not isinstance(name, str) or not _PLATFORM_NAME.match(name):
        return f"returned a platform named {name!r:.60}: a name is 1 to 40 lower-case letters, digits or _"
    display_name = getattr(adapter, "display_name", None)
    if not isinstance(display_name, str) or not display_name.strip():
        return f"returned platform {name!r} without a display_name"
    fields = adapter.credential_fields
    if not isinstance(fields, tuple) or not all(isinstance(field, CredentialField) for field in fields):
        return f"returned platform {name!r} whose credential_fields are not a tuple of CredentialField"
    if not isinstance(adapter.webhook_auth, WebhookAuth):
        return f"returned platform {name!r} whose webhook_auth is not a WebhookAuth"
    return None


class CheckedPlatform(PlatformAdapter):
    """A platform as the rest of CourseSignal sees it: what it returns is checked, what it raises is its own."""

    def __init__(self, inner: PlatformAdapter, plugin: str, now: Callable[[], datetime]) -> None:
        self.inner = inner
        self.plugin = plugin
        self._now = now
        self.name = inner.name  # type: ignore[misc]
        self.display_name = inner.display_name  # type: ignore[misc]
        self.credential_fields = inner.credential_fields  # type: ignore[misc]
        self.webhook_auth = inner.webhook_auth  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"CheckedPlatform({self.inner!r}, plugin={self.plugin!r})"

    # ---- what a plugin raises -------------------------------------------------------------------
    def _failed(self, error: Exception, doing: str) -> PlatformError:
        log.error("platform %s (plugin %r) failed while %s", self.name, self.plugin, doing, exc_info=error)
        return PlatformError(
            f"The {self.display_name} plugin failed while {doing} ({type(error).__name__}). CourseSignal tries "
            "again later; if this stays, update the plugin or tell its maker."
        )

    def _call(self, doing: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except PlatformError:
            raise
        except Exception as error:
            raise self._failed(error, doing) from error

    # ---- what a plugin returns ------------------------------------------------------------------
    def _checked(self, record: object) -> PlatformRecord:
        problem = record_problem(record, self.name, self._now())
        if problem:
            log.warning("platform %s (plugin %r) returned a record refused: %s", self.name, self.plugin, problem)
            raise InvalidRecord(
                f"{self.display_name} sent a record CourseSignal cannot store: {problem}. Nothing of it was "
                "stored; this is a fault in the platform's plugin, so trying again will not help until it is fixed."
            )
        return record  # type: ignore[return-value]

    def _checked_all(self, records: object) -> list[PlatformRecord]:
        if not isinstance(records, Iterable) or isinstance(records, str | bytes):
            raise InvalidRecord(f"{self.display_name} returned {type(records).__name__} instead of records.")
        return [self._checked(record) for record in records]

    def _stream(self, doing: str, start: Callable[[], Iterable[PlatformRecord]]) -> Iterator[PlatformRecord]:
        records = iter(self._call(doing, start))
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except PlatformError:
                raise
            except Exception as error:
                raise self._failed(error, doing) from error
            yield self._checked(record)

    # ---- the platform's methods, checked -----------------------------------------------------------
    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        check = self._call("checking credentials", lambda: self.inner.check_credentials(credentials))
        if not isinstance(check, ConnectionCheck):
            raise self._failed(TypeError(f"check_credentials returned {type(check).__name__}"), "checking credentials")
        return check

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        # Not wrapped: an unexpected exception here is answered 503, so the platform sends the delivery again
        # once the plugin is fixed (only this platform's webhooks are affected).
        if delivery.received_at is None:
            delivery = replace(delivery, received_at=self._now())
        return self.inner.read_webhook(delivery, credentials)

    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        return self._stream("reading purchases", lambda: self.inner.fetch_purchases(credentials, since, progress))

    def resume_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress, cursor: str
    ) -> Iterator[PlatformRecord]:
        return self._stream(
            "reading purchases", lambda: self.inner.resume_purchases(credentials, since, progress, cursor)
        )

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        return self._checked_all(
            self._call("confirming a webhook", lambda: self.inner.confirm_records(credentials, records))
        )

    def confirm_batch(self, credentials: Credentials, batch: WebhookBatch) -> Sequence[PlatformRecord]:
        return self._checked_all(
            self._call("confirming a webhook", lambda: self.inner.confirm_batch(credentials, batch))
        )

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        return tuple(
            self._call("registering webhooks", lambda: self.inner.register_webhooks(credentials, target_url)) or ()
        )

    def remove_webhooks(self, credentials: Credentials, webhook_ids: Sequence[str]) -> None:
        self._call("removing webhooks", lambda: self.inner.remove_webhooks(credentials, webhook_ids))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PlatformRegistry:
    """The one place that calls the platform hooks; hands out only checked PlatformAdapters, by name."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        api_urls: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._manager = manager
        self._hook_arguments = {"api_urls": dict(api_urls or {})}
        self._now = now
        self._platforms: dict[str, CheckedPlatform] | None = None
        self._lock = threading.Lock()

    def _collect(self) -> dict[str, CheckedPlatform]:
        platforms: dict[str, CheckedPlatform] = {}
        hook = self._manager.hook.coursesignal_platforms
        for implementation in hook.get_hookimpls():
            plugin = implementation.plugin_name
            # Called one by one (not through pm.hook) to name the plugin at fault; like pluggy, pass only
            # the arguments an implementation asks for.
            arguments = {name: self._hook_arguments[name] for name in implementation.argnames}
            try:
                returned = implementation.function(**arguments)
            except Exception as error:
                raise PluginError(f"plugin {plugin!r} failed in coursesignal_platforms: {_one_line(error)}") from error
            if returned is None:
                continue
            if not isinstance(returned, Iterable) or isinstance(returned, str | bytes | PlatformAdapter):
                raise PluginError(f"plugin {plugin!r} returned {returned!r:.80} instead of a list of platforms")
            for adapter in returned:
                if problem := _adapter_problem(adapter):
                    raise PluginError(f"plugin {plugin!r} {problem}")
                if adapter.name in platforms:
                    other = platforms[adapter.name].plugin
                    raise PluginError(
                        f"plugin {plugin!r} registers platform {adapter.name!r} a second time (plugin {other!r} has it)"
                    )
                platforms[adapter.name] = CheckedPlatform(adapter, plugin, self._now)
        return platforms

    def load(self) -> PlatformRegistry:
        """Load and check every platform now (the app, `run` and `worker` do it at start); PluginError names
        the plugin at fault. Loading again returns what was loaded."""
        with self._lock:
            if self._platforms is None:
                self._platforms = self._collect()
            return self

    def _loaded(self) -> dict[str, CheckedPlatform]:
        self.load()
        assert self._platforms is not None
        return self._platforms

    def get(self, name: str) -> CheckedPlatform:
        return self._loaded()[name]

    def all(self) -> Sequence[CheckedPlatform]:
        return sorted(self._loaded().values(), key=lambda p: p.display_name.lower())
