"""The tracker's collect endpoint: a thin edge that validates and hands over to the ingestion pipeline."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from adapters.web.contract import TEXT, Answer, Pattern, operation
from adapters.web.privacy import OPT_OUT_COOKIE
from core.domain.bots import preload as preload_bot_patterns
from core.domain.events import DropReason, EventKind, TrackerEvent
from core.domain.fingerprints import is_derived_visitor_key
from core.domain.storable import value_problem
from core.domain.touches import MAX_URL_LENGTH
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.services.fingerprints import FingerprintSalts
from core.services.tracking import IngestOutcome, Tracking

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
    def _identify_has_email(self, data: dict[str, Any], **_: Any) -> None:
        if data["n"] == EventKind.IDENTIFY and normalize_email(data.get("e")) is None:
            raise ValidationError("identify needs a valid email", "e")


_schema = CollectEventSchema()


def _reply(status: int, reason: str = "") -> Response:
    response = Response(reason, status=status, mimetype="text/plain")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _read_body() -> bytes | None:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    body = request.stream.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


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


@blueprint.route("/t/e", methods=["OPTIONS"])
def preflight() -> Response:
    response = _reply(204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _fingerprint(salts: FingerprintSalts) -> str | None:
    """The salted hash of network + browser + language; the address itself is never kept."""
    return salts.fingerprint(
        address=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        language=request.headers.get("Accept-Language"),
    )


def _declines_tracking() -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1" or request.headers.get("DNT", "").strip() == "1"


def _event(data: dict[str, Any], clock: Clock, salts: FingerprintSalts) -> TrackerEvent | Response:
    """The validated event, or the answer refusing it."""
    visitor_key = data["v"]
    if visitor_key is None:
        visitor_key = salts.derived_visitor_key(
            address=request.remote_addr, user_agent=request.headers.get("User-Agent"), site_key=data["s"]
        )
        if visitor_key is None:
            return _reply(400, "v: missing, and no visitor can be derived without an address and a User-Agent")
    elif is_derived_visitor_key(visitor_key):
        return _reply(400, "v: ids starting with 'd-' are made by the server, not sent by the tracker")
    return TrackerEvent(
        site_key=data["s"],
        client_event_id=data["i"],
        kind=EventKind(data["n"]),
        visitor_key=visitor_key,
        url=data["u"],
        referrer=data["r"] or None,
        title=data["t"],
        email=normalize_email(data["e"]),
        received_at=clock.now(),
        user_agent=request.headers.get("User-Agent"),
        fingerprint=_fingerprint(salts),
        client_address=request.remote_addr,
        declines_tracking=_declines_tracking(),
    )


def _accept(tracking: Tracking, event: TrackerEvent) -> IngestOutcome:
    try:
        return tracking.accept(event)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    # The pooled connection was one the server had dropped (a restart, a cut): nothing pings it on checkout,
    # so try once more; SQLAlchemy has discarded the pool's older connections and this one is new. Storing
    # is keyed by the client's event id, so even a first try that was stored is stored once.
    log.info("collect: a pooled database connection was dead; trying once more on a new one")
    return tracking.accept(event)


_REASON = "text/plain"


@blueprint.post("/t/e")
@operation(
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
    description=f"JSON sent as text/plain (no preflight; sendBeacon works), {MAX_BODY_BYTES} bytes at most.",
    body=CollectEventSchema,
    body_media_types=("text/plain", "application/json"),
    parses_body=False,  # read here: the size limit, JSON sent as text/plain, a value the store cannot hold
)
@inject
def collect(
    tracking: Tracking = Provide["services.tracking"],
    clock: Clock = Provide["gateways.clock"],
    salts: FingerprintSalts = Provide["services.fingerprint_salts"],
) -> Response:
    if request.cookies.get(OPT_OUT_COOKIE) == "1":
        # Opted out on our hosted page (docs/privacy.md): nothing is read, stored or counted.
        return _reply(204)
    body = _read_body()
    if body is None:
        return _reply(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return _reply(400, "body is not JSON")
    except ValueError:  # an integer of thousands of digits
        return _reply(400, "body holds a number out of range")
    if not isinstance(payload, dict):
        return _reply(400, "body must be a JSON object")
    # Checked before anything reads them: the store could not hold them. Other fields are ignored, unread.
    for name in _schema.fields:
        if name in payload and (problem := value_problem(payload[name])):
            return _reply(400, f"{name}: {problem}")
    try:
        data = _schema.load(payload, unknown="exclude")
    except ValidationError as error:
        field, problems = next(iter(error.normalized_messages().items()))
        return _reply(400, f"{field}: {problems[0] if isinstance(problems, list) else problems}")
    try:
        # Today's fingerprint salt comes from the database (once a day per process): inside the try too.
        event = _event(data, clock, salts)
        if isinstance(event, Response):
            return event
        outcome = _accept(tracking, event)
    except SQLAlchemyError:
        # Nothing was stored: say so, so the sender may try again; never a 2xx for an event we do not hold.
        log.warning("collect: the database is unavailable; event refused", exc_info=True)
        response = _reply(503, "cannot store events right now; try again in a minute")
        response.headers["Retry-After"] = "60"
        return response
    if outcome.dropped is DropReason.UNKNOWN_SITE:
        return _reply(404, "unknown site key")
    if outcome.dropped is DropReason.RATE_LIMITED:
        response = _reply(429, "too many events; slow down")
        response.headers["Retry-After"] = "60"
        return response
    # Bots and repeats get the same answer as a stored event: nothing to learn, nothing to retry.
    return _reply(204)
