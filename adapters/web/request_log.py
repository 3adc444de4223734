"""Request ids and the access log.

Every request gets an id: a sane incoming `X-Request-ID` (from a proxy or a load balancer that logs its
own) is kept, anything else is replaced by a fresh one. It is returned in the `X-Request-ID` response
header, carried by every log line written while the request runs, and by the jobs it enqueues.

The access log is ours, not gunicorn's: one line per request, with webhook and e-mailed-link tokens and
secret-looking query values hidden, and no request headers at all (so never `Authorization` or a cookie).
The tracker's endpoints are logged without the sender's address: the product never keeps it, and the
collect endpoint's accepted beacons (204), the bulk of all requests, are logged at DEBUG; its refusals and
errors at INFO like every other request.
"""

from __future__ import annotations

import logging
import os
import re
import time

from flask import Flask, Response, g, request

from adapters.structured_logs import REQUEST_ID, redact_path, redact_query

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_ADDRESSLESS_PATHS = frozenset({"/t/e", "/t.js"})


# What a person is shown for a server error: never a stack trace, and the request id to quote.
SERVER_ERROR = (
    "Something went wrong on our side and nothing was changed. Try again in a minute; if it keeps happening, "
    "write to support and quote the reference {reference}."
)


def request_id_from(incoming: str) -> str:
    """The request's id: the incoming header's when it is sane, a fresh one otherwise."""
    # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID (on every beacon).
    return incoming if _SANE_REQUEST_ID.match(incoming) else os.urandom(16).hex()


def access_line(method: str, path: str, query: str, status: int, started: float, remote_addr: str | None) -> None:
    """The access log's line for one request (`started`: its time.perf_counter() when it arrived)."""
    level = logging.DEBUG if status == 204 and path == "/t/e" else logging.INFO
    if not log.isEnabledFor(level):
        return
    path = redact_path(path)
    extra = {
        "method": method,
        "path": path,
        "query": redact_query(query) if query else None,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "remote_addr": remote_addr,
    }
    log.log(level, "%s %s %s", method, path, status, extra=extra)


def _begin() -> None:
    g.request_id = request_id_from(request.headers.get(HEADER, ""))
    g.request_started = time.perf_counter()
    g.request_id_token = REQUEST_ID.set(g.request_id)


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # a response made before our first hook ran
        return response
    response.headers[HEADER] = request_id
    access_line(
        request.method,
        request.path,
        request.query_string.decode("latin-1"),
        response.status_code,
        g.request_started,
        None if request.path in _ADDRESSLESS_PATHS else request.remote_addr,
    )
    return response


def _end(_: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            REQUEST_ID.reset(token)
        except ValueError:  # torn down in another context than the one it began in: nothing to restore
            REQUEST_ID.set(None)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def init_request_log(app: Flask) -> None:
    """Call first in the factory, so every later hook and error handler already sees the request id."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_end)
