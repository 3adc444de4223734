"""Every stored copy of a student, raw platform deliveries included, on SQLite and PostgreSQL.

A Stripe checkout session holds the buyer's name, phone and postal address next to their email, and the
payment events hold them with no email at all, only the payment's id. The export lists those deliveries;
the erasure leaves none of it in any table; the export's `?email=` never reaches the access log.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from core.domain.connections import Connection, ConnectionStatus, StoredDelivery
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from tests.integration.test_privacy import ANA, BEN, Seeded, find_everywhere

NAME, PHONE, STREET, POSTCODE = "Ana Q. Student", "+44 20 7946 0958", "221B Baker Street", "NW1 6XE"
PAYMENT = "pi_3Ana000000000000000"
ADDRESS = {"city": "London", "country": "GB", "line1": STREET, "line2": None, "postal_code": POSTCODE, "state": None}
SESSION = {
    "id": "evt_session",
    "type": "checkout.session.completed",
    "data": {
        "object": {
            "id": "cs_test_ana",
            "object": "checkout.session",
            "payment_intent": PAYMENT,
            "amount_total": 19900,
            "customer_details": {"email": ANA, "name": NAME, "phone": PHONE, "address": ADDRESS},
        }
    },
}
# No email anywhere: only the payment's id says whose it is.
CHARGE = {
    "id": "evt_charge",
    "type": "charge.succeeded",
    "data": {
        "object": {
            "id": "ch_ana",
            "object": "charge",
            "payment_intent": PAYMENT,
            "amount": 19900,
            "billing_details": {"email": None, "name": NAME, "phone": PHONE, "address": ADDRESS},
            "shipping": {"name": NAME, "phone": PHONE, "address": ADDRESS},
        }
    },
}
BENS = {
    "id": "evt_ben",
    "type": "checkout.session.completed",
    "data": {
        "object": {
            "id": "cs_ben",
            "customer_details": {"email": BEN, "name": "Ben Other", "address": {"line1": "1 Elm Row"}},
        }
    },
}


def _seed(container, client) -> Seeded:  # type: ignore[no-untyped-def]
    s = Seeded(container, client)
    container.services.purchases().ingest(
        s.account_id,
        [PurchaseRecord("stripe", PAYMENT, Money(19900, "USD"), datetime.now(UTC), email=ANA, course_name="Launch")],
    )
    with container.gateways.unit_of_work() as uow:
        connection = uow.connections.add(
            Connection(s.account_id, "stripe", ConnectionStatus.CONNECTED, datetime.now(UTC))
        )
        assert connection.id is not None
        for event in (SESSION, CHARGE, BENS):
            body = json.dumps(event).encode()
            uow.webhook_deliveries.add(StoredDelivery(connection.id, event["id"], body, {}, datetime.now(UTC)))
        uow.commit()
    return s


def test_the_export_lists_the_deliveries_that_name_the_student(client, container) -> None:  # type: ignore[no-untyped-def]
    s = _seed(container, client)
    export = s.api("get", f"/api/v1/privacy/export?email={ANA}").get_json()
    deliveries = export["tables"]["webhook_deliveries"]
    assert sorted(d["event_id"] for d in deliveries) == ["evt_charge", "evt_session"]
    assert NAME in json.dumps(deliveries)
    assert "Ben Other" not in json.dumps(export)


def test_erasure_leaves_no_name_phone_or_address_in_any_stored_delivery(client, container) -> None:  # type: ignore[no-untyped-def]
    s = _seed(container, client)
    engine = container.gateways.engine()
    assert find_everywhere(engine, [NAME, PHONE, STREET, POSTCODE])  # stored before

    body = s.api("post", "/api/v1/privacy/erase", json={"email": ANA}).get_json()

    assert body["deliveries_redacted"] == 2
    assert find_everywhere(engine, [ANA, NAME, PHONE, STREET, POSTCODE]) == []
    with container.gateways.unit_of_work() as uow:
        kept = {d.event_id: json.loads(d.body) for d in map(uow.webhook_deliveries.get, (1, 2, 3)) if d is not None}
    # What happened stays readable: ids and amounts; Ben's delivery is untouched.
    assert kept["evt_charge"]["data"]["object"]["payment_intent"] == PAYMENT
    assert kept["evt_charge"]["data"]["object"]["amount"] == 19900
    assert kept["evt_ben"]["data"]["object"]["customer_details"]["name"] == "Ben Other"


def test_the_exports_email_never_reaches_the_access_log(client, container, caplog) -> None:  # type: ignore[no-untyped-def]
    s = _seed(container, client)
    with caplog.at_level(logging.INFO):
        s.api("get", f"/api/v1/privacy/export?email={ANA}")
        s.api("get", "/api/v1/privacy/export?visitor_id=ana-main-browser1")
        client.get(f"/dashboard?anything={ANA.replace('@', '%40')}")
    logged = [(r.getMessage(), str(getattr(r, "query", ""))) for r in caplog.records]
    assert any("/api/v1/privacy/export" in message for message, _ in logged)
    text = json.dumps(logged)
    assert "ana.student" not in text
    assert "ana-main-browser1" not in text
