"""Purchases from a CSV file: for creators on platforms CourseSignal does not read directly.

Columns (header row required): purchase_id, email, amount (major units, "49.00"), currency,
purchased_at (ISO 8601; no offset means UTC); optional course_name and visitor_id.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from coursesignal import (
    Money,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    PurchaseRecord,
    SyncProgress,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
    hookimpl,
)

REQUIRED_COLUMNS = ("purchase_id", "email", "amount", "currency", "purchased_at")
MAX_FILE_BYTES = 20 * 1024 * 1024


class _RowSchema(Schema):
    purchase_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    email = fields.Email(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"[A-Za-z]{3}\Z", error="not a currency code"))
    purchased_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    course_name = fields.String(load_default=None, validate=validate.Length(max=500))
    visitor_id = fields.String(load_default=None, validate=validate.Regexp(r"[A-Za-z0-9_-]{8,64}\Z"))

    @validates("amount")
    def _amount_is_decimal(self, value: str, **_: Any) -> None:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValidationError("not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValidationError("must be zero or more")

    @post_load
    def _to_record(self, row: dict[str, Any], **_: Any) -> PurchaseRecord:
        try:
            amount = Money.from_decimal(row["amount"], row["currency"])
        except ValueError as error:
            raise ValidationError({"amount": [str(error)]}) from None
        return PurchaseRecord(
            platform=CsvPlatform.name,
            platform_purchase_id=row["purchase_id"],
            amount=amount,
            purchased_at=row["purchased_at"].astimezone(UTC),
            email=row["email"].strip().lower(),
            course_name=row["course_name"] or None,
            visitor_key=row["visitor_id"] or None,
        )


def parse_csv(text: str) -> Iterator[PurchaseRecord]:
    """Yield one record per row; raise PlatformError naming the first bad row and what is wrong."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or ()]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise PlatformError(f"The file has no {', '.join(missing)} column; the header row must name them.")
    schema = _RowSchema()
    for line_number, raw in enumerate(reader, start=2):
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key and key.strip() in schema.fields}
        row = {key: value for key, value in row.items() if value or key in REQUIRED_COLUMNS}
        try:
            yield schema.load(row)
        except ValidationError as error:
            field, problems = next(iter(error.normalized_messages().items()))
            detail = problems[0] if isinstance(problems, list) else problems
            raise PlatformError(f"Row {line_number}: {field}: {detail}") from None


class CsvPlatform(PlatformAdapter):
    name = "csv"
    display_name = "CSV file"

    def fetch_purchases(
        self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        path = Path(credentials["path"])
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise PlatformError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB; split it into parts.")
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise PlatformError(f"Could not read {path.name}: {error}") from None
        done = 0
        for record in parse_csv(text):
            done += 1
            if done % 500 == 0:
                progress(done, None)
            if record.purchased_at >= since:
                yield record
        progress(done, done)

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """A CSV posted to the connection's webhook URL (from a script or an automation tool)."""
        if len(delivery.body) > MAX_FILE_BYTES:
            raise WebhookRejected("The file is too large.")
        try:
            text = delivery.body.decode("utf-8-sig")
            records = tuple(parse_csv(text))
        except UnicodeDecodeError:
            raise WebhookRejected("The body is not UTF-8 text.") from None
        except PlatformError as error:
            raise WebhookRejected(str(error)) from None
        return WebhookBatch(event_id=hashlib.sha256(delivery.body).hexdigest(), records=records)


@hookimpl
def coursesignal_platforms() -> list[PlatformAdapter]:
    return [CsvPlatform()]
