"""Structured logs: one JSON object per line, carrying the id of the request (or job) it belongs to.

`configure_logging` is called once by the shell (the app factory's caller and the CLI), never at import.
The request id lives in a context variable: the web adapter sets it for each request, and job queues
carry it to the jobs a request enqueued, so one id ties a click to everything it caused.

Secrets never reach a log line: the access log writes paths through `redact_path`, which hides the
tokens some URLs carry (webhook tokens, e-mailed links), and never writes request headers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from rq import get_current_job

REQUEST_ID: ContextVar[str | None] = ContextVar("coursesignal_request_id", default=None)
REDACTED = "[redacted]"

# Paths whose last segment is a secret: the per-connection webhook token, and the signed links we e-mail.
_SECRET_PATHS = (
    re.compile(r"^(/webhooks/[^/]+/[^/]+/)[^/?#]+"),
    re.compile(r"^(/verify/)[^/?#]+"),
    re.compile(r"^(/reset/)[^/?#]+"),
    re.compile(r"^(/account/email/)[^/?#]+"),
)
_SECRET_QUERY_NAMES = re.compile(r"token|secret|key|password|signature|code|auth", re.IGNORECASE)
# Query values that name a person (the privacy export's ?email= and ?visitor_id=): a log outlives an erasure.
_PERSONAL_QUERY_NAMES = re.compile(r"mail|visitor|^[ev]$", re.IGNORECASE)
# The attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact_path(path: str) -> str:
    for pattern in _SECRET_PATHS:
        path = pattern.sub(rf"\g<1>{REDACTED}", path)
    return path


def redact_query(query: str) -> str:
    """A query string with the values of secret-looking and person-naming parameters hidden, and any value
    that holds an email address."""
    parts = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        hidden = _SECRET_QUERY_NAMES.search(name) or _PERSONAL_QUERY_NAMES.search(name)
        hidden = hidden or "@" in value or "%40" in value.upper()
        parts.append(f"{name}={REDACTED}" if sep and hidden else pair)
    return "&".join(parts)


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    """Log lines inside carry `request_id` (a job runs inside the id of the request that queued it)."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def _job_request_id() -> str | None:
    """Inside an RQ job: the id of the request that queued it (RqJobQueue keeps it in the job's meta)."""
    job = get_current_job()
    request_id = job.meta.get("request_id") if job is not None else None
    return request_id if isinstance(request_id, str) else None


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or _job_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get() or _job_request_id(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line, default=str, ensure_ascii=False)


class _CourseSignalHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the one handler `configure_logging` owns, so calling it again replaces it instead of adding.

    Without a stream of its own it writes to whatever sys.stderr is at the time (gunicorn and test runners
    swap it), never to a stream closed since.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follows_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _CourseSignalHandler):
            root.removeHandler(handler)
    handler = _CourseSignalHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
