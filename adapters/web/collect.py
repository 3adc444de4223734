"""The tracker's endpoints: the script (/t.js, a Flask view) and collect (/t/e, answered in front of Flask by
`CollectEndpoint`), a thin edge that validates and hands over to the ingestion pipeline."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate, validates_schema
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import parse_cookie
from werkzeug.routing import Map, Rule

from adapters.structured_logs import REQUEST_ID
from adapters.web import request_log, security
from adapters.web.contract import TEXT, Answer, Pattern, also_documented
from adapters.web.privacy import OPT_OUT_COOKIE
from adapters.web.request_log import SERVER_ERROR, access_line, request_id_from
from core.domain.bots import preload as preload_bot_patterns
from core.domain.events import DropReason, EventKind, TrackerEvent
from core.domain.fingerprints import is_derived_visitor_key
from core.domain.storable import value_problem
from core.domain.touches import MAX_URL_LENGTH
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.inbox import InboxUnavailable
from core.services.fingerprints import FingerprintSalts
from core.services.tracking import Tracking

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
blueprint = Blueprint("collect", __name__)
# The bot patterns are compiled when the app is built, not in the first request that needs them.
blueprint.record_once(lambda _state: preload_bot_patterns())

MAX_BODY_BYTES = 8 * 1024
_ID = r"^[A-Za-z0-9_-]{8,64}$"


# Text a tracker sends: anything but NUL and unpaired surrogates, which no page has and the store cannot hold
# (value_problem refuses them before the schema reads the event).
_NO_NUL = "^[^\\u0000\\ud800-\\udfff]*$"


class CollectEventSchema(Schema):
    """One event as the tracker sends it: short keys keep the script small. Other keys are ignored, unread.

    A `pattern` in metadata narrows what the document promises below what the validators accept, for what a
    regular expression cannot say alone (no NUL, an email's shape, a URL as plain ASCII)."""

    class Meta:
        unknown = EXCLUDE

    # An identify event names who the visitor is (in the document: JSON Schema's if/then).
    OPENAPI_EXTRA: ClassVar[dict[str, Any]] = {
        "if": {"properties": {"n": {"const": "identify"}}, "required": ["n"]},
        "then": {"required": ["e"], "properties": {"e": {"type": "string"}}},
    }

    s = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"pattern": _NO_NUL, "description": "The site key from the snippet's data-site."},
    )
    n = fields.String(required=True, validate=validate.OneOf([k.value for k in EventKind]))  # event name
    i = fields.String(
        required=True,
        validate=Pattern(_ID),
        metadata={"description": "Client event id; repeats are stored once."},
    )
    v = fields.String(
        load_default=None,
        validate=Pattern(_ID),
        metadata={
            "pattern": "^(?!d-)[A-Za-z0-9_-]{8,64}$",
            "description": "The visitor id the tracker keeps. Left out when the browser can keep none: the server "
            "then derives a pseudonymous id for the day from the User-Agent header and the network (weaker for "
            "matching); without a User-Agent the event is refused. Ids starting with 'd-' are refused.",
        },
    )
    u = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=MAX_URL_LENGTH),
        metadata={
            # http(s) only, a host name (the last label of a dotted one at least two characters), an optional
            # port, then printable characters: what the server accepts, narrowed to plain ASCII.
            "pattern": "^https?://(?:[A-Za-z0-9]{1,20}\\.)*[A-Za-z0-9]{2,20}(?::[1-9][0-9]{0,3})?(?:[/?][!-~]*)?$",
            "description": "The page URL (http or https).",
        },
    )
    r = fields.String(
        load_default=None,
        validate=validate.Length(max=MAX_URL_LENGTH),
        metadata={"pattern": _NO_NUL, "description": "document.referrer"},
    )
    t = fields.String(
        load_default=None,
        validate=validate.Length(max=300),
        metadata={"pattern": _NO_NUL, "description": "document.title"},
    )
    e = fields.String(
        load_default=None,
        validate=validate.Length(max=254),
        metadata={
            "pattern": "^[!-?A-~]{1,64}@[!-?A-~]+\\.[!-?A-~]{2,}$",
            "description": "The email (printable, no spaces): required by identify events, ignored by others.",
        },
    )

    @validates_schema
    def identify_has_email(self, data: dict[str, Any], **_: Any) -> None:
        if data["n"] == EventKind.IDENTIFY and normalize_email(data.get("e")) is None:
            raise ValidationError("identify needs a valid email", "e")


_schema = CollectEventSchema()


def _compiled_load(schema: CollectEventSchema) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """`schema.load` for a payload every field of which passes: each field's own validators, called without
    Schema.load's per-call machinery (its error store, hooks and field lookups), at a quarter of its CPU on
    the product's hottest path. None when anything is missing, null where it may not be, not a string, or
    refused: `schema.load` then says what, so the rules and the messages stay the schema's alone
    (tests/unit/test_collect_validation.py holds the two to the same answers)."""
    plan = []
    for name, field in schema.fields.items():
        # Text fields only, as they are: their deserialization is the type check below. Another kind of field,
        # or a field's own pre- or post-processing (marshmallow 4.3 and later), would need a step of its own.
        processed = getattr(field, "pre_load", None) or getattr(field, "post_load", None)
        if type(field) not in (fields.String, fields.Url) or field.data_key or processed:
            raise TypeError(f"{name}: only plain text fields are compiled")
        plan.append((name, field.required, field.load_default, field.allow_none, tuple(field.validators)))

    def load(payload: dict[str, Any]) -> dict[str, Any] | None:
        data: dict[str, Any] = {}
        try:
            for name, required, default, allow_none, validators in plan:
                value = payload.get(name, missing)
                if value is missing:
                    if required:
                        return None
                    data[name] = default
                elif value is None:
                    if not allow_none:
                        return None
                    data[name] = None
                elif type(value) is str:
                    for validator in validators:
                        validator(value)
                    data[name] = value
                else:
                    return None
            schema.identify_has_email(data)
        except ValidationError:
            return None
        return data

    return load


_load_valid = _compiled_load(_schema)


PUBLIC_TRACKER_PATHS = frozenset({"/t.js", "/t/e"})


def is_public_tracker_path(path: str) -> bool:
    return path in PUBLIC_TRACKER_PATHS


TRACKER_SCRIPT = Path(__file__).parent / "static" / "t.js"
# Browsers revalidate after this; a strong ETag makes that a 304 until a release changes the script.
SCRIPT_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class _Encoded:
    body: bytes
    etag: str


@cache
def _script() -> dict[str, _Encoded]:
    """The tracking script, plain and gzipped, each with the strong ETag of its exact bytes."""
    plain = TRACKER_SCRIPT.read_bytes()
    encodings = {"identity": plain, "gzip": gzip.compress(plain, compresslevel=9, mtime=0)}
    return {name: _Encoded(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"') for name, body in encodings.items()}


@blueprint.get("/t.js")
def tracker_script() -> Response:
    encoding = "gzip" if "gzip" in request.accept_encodings else "identity"
    script = _script()[encoding]
    response = Response(script.body, mimetype="text/javascript")
    response.set_etag(script.etag.strip('"'))
    response.headers["Cache-Control"] = f"public, max-age={SCRIPT_MAX_AGE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Vary"] = "Accept-Encoding"
    if encoding == "gzip":
        response.headers["Content-Encoding"] = "gzip"
    return response.make_conditional(request)


# --- POST /t/e, in front of Flask --------------------------------------------------------------------------

COLLECT_PATH = "/t/e"
_ALLOWED = "OPTIONS, POST"
_PREFLIGHT = (
    ("Access-Control-Allow-Methods", "POST"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "86400"),
)
_STATUS_LINES = {code: f"{code} {HTTPStatus(code).phrase}" for code in (204, 400, 404, 405, 413, 429, 500, 503)}
_RETRY_LATER = (("Retry-After", "60"),)
_REASON = "text/plain"


@dataclass(frozen=True)
class _Answer:
    status: int
    text: str = ""
    headers: tuple[tuple[str, str], ...] = ()


_ACCEPTED = _Answer(204)


@dataclass(frozen=True)
class _Services:
    tracking: Tracking
    clock: Clock
    salts: FingerprintSalts


@inject
def _wired_services(
    tracking: Tracking = Provide["services.tracking"],
    clock: Clock = Provide["gateways.clock"],
    salts: FingerprintSalts = Provide["services.fingerprint_salts"],
) -> _Services:
    return _Services(tracking, clock, salts)


class CollectEndpoint:
    """Every request to /t/e, answered in front of Flask (WSGI middleware); anything else goes on to Flask.

    The tracker sends one beacon per page view, so this is the product's hottest path, and the benchmark holds
    it to a no-op Flask endpoint's pace (bench/collect.py). A Flask request costs more CPU than storing the
    event does: its request context, the session, CSRF, login and rate-limit hooks, the security and access
    log hooks, none of which this public, cookie-less endpoint needs. So it reads the WSGI environ itself and
    gives the same answers Flask gave: plain text with `Access-Control-Allow-Origin: *`, the security headers
    (adapters/web/security.py), `X-Request-ID`, and a 500 that shows the reference and logs the traceback.
    Trusted proxies are applied before it (ProxyFix wraps it). It is documented in /openapi.json like the
    views are, from the declaration on `_collect`."""

    def __init__(self, next_app: WSGIApplication, *, hsts: bool) -> None:
        self._next = next_app
        self._headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Access-Control-Allow-Origin", "*"),
            *security.machine_headers(hsts=hsts),
            ("Cache-Control", "no-store"),
        ]
        self._services: _Services | None = None

    def routes(self) -> list[tuple[Rule, Callable[..., Any]]]:
        """What the OpenAPI document and the route checks read, as they read Flask's url map."""
        rule = Rule(COLLECT_PATH, methods=["POST", "OPTIONS"], endpoint="collect.collect")
        Map([rule])  # bound, as a url map's rules are
        return [(rule, _collect)]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != COLLECT_PATH:
            return self._next(environ, start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        token = REQUEST_ID.set(request_id)
        try:
            try:
                answer = self._answer(method, environ)
            except Exception as error:
                log.error("unhandled %s on %s %s", type(error).__name__, method, COLLECT_PATH, exc_info=error)
                answer = _Answer(500, SERVER_ERROR.format(reference=request_id))
            # The tracker's accepted beacons are the bulk of all requests: their lines are written at DEBUG.
            access_line(method, COLLECT_PATH, environ.get("QUERY_STRING", ""), answer.status, started, None)
        finally:
            REQUEST_ID.reset(token)
        body = answer.text.encode()
        headers = [*self._headers, *answer.headers, (request_log.HEADER, request_id)]
        if answer.status != 204:
            headers.append(("Content-Length", str(len(body))))
        start_response(_STATUS_LINES[answer.status], headers)
        return [body] if body and method != "HEAD" else []

    def _answer(self, method: str, environ: WSGIEnvironment) -> _Answer:
        if method == "POST":
            if self._services is None:
                self._services = _wired_services()
            return _collect(self._services, environ)
        if method == "OPTIONS":
            return _Answer(204, headers=_PREFLIGHT)
        return _Answer(405, "The method is not allowed for the requested URL.", (("Allow", _ALLOWED),))


def _read_body(environ: WSGIEnvironment) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES (said by its length, or found reading it)."""
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = stream.read(MAX_BODY_BYTES + 1)
    else:
        return b""
    return None if len(body) > MAX_BODY_BYTES else body


def _opted_out(environ: WSGIEnvironment) -> bool:
    cookies = environ.get("HTTP_COOKIE")
    return bool(cookies and OPT_OUT_COOKIE in cookies and parse_cookie(cookies).get(OPT_OUT_COOKIE) == "1")


def _declines_tracking(environ: WSGIEnvironment) -> bool:
    return environ.get("HTTP_SEC_GPC", "").strip() == "1" or environ.get("HTTP_DNT", "").strip() == "1"


def _event(data: dict[str, Any], environ: WSGIEnvironment, services: _Services) -> TrackerEvent | _Answer:
    """The validated event, or the answer refusing it."""
    address = environ.get("REMOTE_ADDR")
    user_agent = environ.get("HTTP_USER_AGENT")
    visitor_key = data["v"]
    if visitor_key is None:
        visitor_key = services.salts.derived_visitor_key(address=address, user_agent=user_agent, site_key=data["s"])
        if visitor_key is None:
            return _Answer(400, "v: missing, and no visitor can be derived without an address and a User-Agent")
    elif is_derived_visitor_key(visitor_key):
        return _Answer(400, "v: ids starting with 'd-' are made by the server, not sent by the tracker")
    return TrackerEvent(
        site_key=data["s"],
        client_event_id=data["i"],
        kind=EventKind(data["n"]),
        visitor_key=visitor_key,
        url=data["u"],
        referrer=data["r"] or None,
        title=data["t"],
        email=normalize_email(data["e"]),
        received_at=services.clock.now(),
        user_agent=user_agent,
        # The salted hash of network + browser + language; the address itself is never kept.
        fingerprint=services.salts.fingerprint(
            address=address, user_agent=user_agent, language=environ.get("HTTP_ACCEPT_LANGUAGE")
        ),
        client_address=address,
        declines_tracking=_declines_tracking(environ),
    )


@also_documented(
    "Collect one tracker event",
    {
        204: Answer(
            "Accepted: stored for the ingestion pipeline, which runs on it within moments (or dropped as a bot or a "
            "repeat)."
        ),
        400: Answer("Malformed event; the body says why.", TEXT, _REASON),
        404: Answer("Unknown site key; nothing stored.", TEXT, _REASON),
        413: Answer("Body too large.", TEXT, _REASON),
        429: Answer("Too many events from this sender or for this site; retry after Retry-After.", TEXT, _REASON),
        503: Answer("The event could not be stored (database unavailable); nothing was kept.", TEXT, _REASON),
    },
    path=COLLECT_PATH,
    description=f"JSON sent as text/plain (no preflight; sendBeacon works), {MAX_BODY_BYTES} bytes at most.",
    body=CollectEventSchema,
    body_media_types=("text/plain", "application/json"),
)
def _collect(services: _Services, environ: WSGIEnvironment) -> _Answer:
    if _opted_out(environ):
        # Opted out on our hosted page (docs/privacy.md): nothing is read, stored or counted.
        return _ACCEPTED
    body = _read_body(environ)
    if body is None:
        return _Answer(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return _Answer(400, "body is not JSON")
    except ValueError:  # an integer of thousands of digits
        return _Answer(400, "body holds a number out of range")
    if not isinstance(payload, dict):
        return _Answer(400, "body must be a JSON object")
    # Checked before anything reads them: the store could not hold them. Other fields are ignored, unread.
    for name in _schema.fields:
        if name in payload and (problem := value_problem(payload[name])):
            return _Answer(400, f"{name}: {problem}")
    data = _load_valid(payload)
    if data is None:
        try:
            data = _schema.load(payload, unknown="exclude")
        except ValidationError as error:
            field, problems = next(iter(error.normalized_messages().items()))
            return _Answer(400, f"{field}: {problems[0] if isinstance(problems, list) else problems}")
    try:
        # Today's fingerprint salt comes from the database (once a day per process): inside the try too.
        event = _event(data, environ, services)
        if isinstance(event, _Answer):
            return event
        outcome = services.tracking.accept(event)
    except (InboxUnavailable, SQLAlchemyError):
        # Nothing was stored: say so, so the sender may try again; never a 2xx for an event we do not hold.
        log.warning("collect: the database is unavailable; event refused", exc_info=True)
        return _Answer(503, "cannot store events right now; try again in a minute", _RETRY_LATER)
    if outcome.dropped is DropReason.UNKNOWN_SITE:
        return _Answer(404, "unknown site key")
    if outcome.dropped is DropReason.RATE_LIMITED:
        return _Answer(429, "too many events; slow down", _RETRY_LATER)
    # Bots and repeats get the same answer as a stored event: nothing to learn, nothing to retry.
    return _ACCEPTED
