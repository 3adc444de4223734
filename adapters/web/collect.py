"""The tracker's collect endpoint: a thin edge that validates and hands over to the ingestion pipeline."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

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


class CollectSchema(Schema):
    """One event as the tracker sends it: short keys keep the script small."""

    s = fields.String(required=True, validate=validate.Length(min=1, max=40))  # site key
    n = fields.String(required=True, validate=validate.OneOf([k.value for k in EventKind]))  # event name
    i = fields.String(required=True, validate=validate.Regexp(_ID))  # client event id
    # The visitor id the tracker keeps; absent when the browser can keep nothing (the server derives one).
    v = fields.String(load_default=None, validate=validate.Regexp(_ID))
    u = fields.Url(
        required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=MAX_URL_LENGTH)
    )  # page URL
    r = fields.String(load_default=None, validate=validate.Length(max=MAX_URL_LENGTH))  # referrer
    t = fields.String(load_default=None, validate=validate.Length(max=300))  # title
    e = fields.String(load_default=None, validate=validate.Length(max=254))  # email, identify only

    @validates_schema
    def _identify_has_email(self, data: dict[str, Any], **_: Any) -> None:
        if data["n"] == EventKind.IDENTIFY and normalize_email(data.get("e")) is None:
            raise ValidationError("identify needs a valid email", "e")


_schema = CollectSchema()


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


@blueprint.post("/t/e")
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
