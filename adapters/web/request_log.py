"""Request ids and the access log.

Every request gets an id: a sane incoming `X-Request-ID` (from a proxy or a load balancer that logs its
own) is kept, anything else is replaced by a fresh one. It is returned in the `X-Request-ID` response
header, carried by every log line written while the request runs, and by the jobs it enqueues.

The access log is ours, not gunicorn's: one line per request, with webhook and e-mailed-link tokens and
secret-looking query values hidden, and no request headers at all (so never `Authorization` or a cookie).
The tracker's endpoints are logged without the sender's address: the product never keeps it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from adapters.structured_logs import REQUEST_ID, redact_path, redact_query

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_ADDRESSLESS_PATHS = frozenset({"/t/e", "/t.js"})


def _incoming_or_new() -> str:
    incoming = request.headers.get(HEADER, "")
    return incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _begin() -> None:
    g.request_id = _incoming_or_new()
    g.request_started = time.perf_counter()
    g.request_id_token = REQUEST_ID.set(g.request_id)


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # a response made before our first hook ran
        return response
    response.headers[HEADER] = request_id
    path = redact_path(request.path)
    query = request.query_string.decode("latin-1")
    extra = {
        "method": request.method,
        "path": path,
        "query": redact_query(query) if query else None,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        "remote_addr": None if request.path in _ADDRESSLESS_PATHS else request.remote_addr,
    }
    log.info("%s %s %s", request.method, path, response.status_code, extra=extra)
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
