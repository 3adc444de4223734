"""A local fake of Stripe for CourseSignal's billing and the Stripe sales plugin.

    with FakeStripe() as stripe:                       # serves http://127.0.0.1:<free port> until the block ends
        stripe.add_price("price_monthly")               # seed: prices, customers, charges, payment intents
        client = StripeClient(stripe.secret_key, base_addresses={"api": stripe.base_url})

API (Bearer secret key, else 401; form bodies in bracket notation; Stripe-shaped errors; lists newest first
with limit/starting_after/ending_before/created[gt|gte|lt|lte] and has_more):
POST /v1/checkout/sessions, POST /v1/billing_portal/sessions, POST|GET /v1/customers[/{id}],
GET /v1/subscriptions[/{id}] (filter customer, status), POST|DELETE /v1/subscriptions/{id}, GET /v1/charges[/{id}],
GET /v1/payment_intents[/{id}], GET /v1/checkout/sessions[/{id}[/line_items]] (filter payment_intent, customer,
status), POST /v1/checkout/sessions/{id}/expire, GET /v1/invoices[/{id}] (filter customer, subscription,
status), GET /v1/invoice_payments (filter invoice, status), POST /v1/refunds (charge or payment_intent), GET /v1/events,
POST /v1/webhook_endpoints, DELETE /v1/webhook_endpoints/{id} (kept in `webhook_endpoints`, with their secrets).
Restricted keys: add_restricted_key(permissions) gives an `rk_test_...` key that may only GET the resources
named (SALES_PERMISSIONS by default; `<name>_write` for Write); anything else is a 403 naming the missing
permission, as Stripe answers.
Unknown parameters are refused, as Stripe does, so a misspelt parameter fails the test that sends it.

Acting out Stripe's side, each returning the events Stripe would send: complete_checkout(session_id),
fail_payment(subscription_id) (retried `retries` times, then canceled), pay_invoice, cancel_at_period_end,
end_subscription, require_action (invoice.payment_action_required), trial_will_end; a paid invoice's amount is a
PaymentIntent and charge, linked by an InvoicePayment, as since API version 2025-03-31;
for a creator's own sales (the Stripe sales plugin): sell(amount, email=..., course_name=...,
client_reference_id=...) (payment_intent.succeeded, charge.succeeded, checkout.session.completed),
refund(charge_id, amount) (charge.refunded) and seed_sales(n); event(type, obj) for any other event.
sign(event) gives the body and a real
`Stripe-Signature` header (pass timestamp= or secret= to forge one); deliver(event, url) POSTs it.
Hosted pages for a browser: GET {session.url} has a Subscribe button that completes the Checkout, delivers
its events to `webhook_url` and redirects to the success URL; GET {portal.url} has a Cancel plan button.
"""

from tests.fakes.stripe.server import PERMISSIONS, SALES_PERMISSIONS, FakeStripe, RecordedRequest
from tests.fakes.stripe.webhooks import API_VERSION, signature_header

__all__ = ["API_VERSION", "PERMISSIONS", "SALES_PERMISSIONS", "FakeStripe", "RecordedRequest", "signature_header"]
