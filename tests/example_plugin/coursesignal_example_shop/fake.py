"""A local fake of Example Shop's API, shipped with the plugin so its tests (and anyone building on it) can run
without the real shop: `with FakeShop() as shop:` serves it on a free local port."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 25


class FakeShop:
    def __init__(self) -> None:
        self.api_key = "shop_" + secrets.token_hex(8)
        self.orders: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None

    def add_order(
        self,
        amount_cents: int,
        email: str | None,
        *,
        days_ago: float = 1,
        product: str = "Course",
        currency: str = "usd",
    ) -> dict[str, Any]:
        order = {
            "id": f"ord_{len(self.orders) + 1:05d}",
            "email": email,
            "amount_cents": amount_cents,
            "currency": "usd",
            "created_at": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
            "product": product,
            "refunded_cents": 0,
        }
        self.orders[order["id"]] = order
        return order

    def event(self, order: dict[str, Any], **changes: Any) -> bytes:
        return json.dumps({"event_id": f"evt_{secrets.token_hex(6)}", "order": {**order, **changes}}).encode()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if self.headers.get("Authorization") != f"Bearer {shop.api_key}":
                    return self._json(401, {"error": "bad key"})
                if url.path == "/api/orders":
                    since = datetime.fromisoformat(query.get("since", "1970-01-01T00:00:00+00:00"))
                    found = sorted(
                        (o for o in shop.orders.values() if datetime.fromisoformat(o["created_at"]) >= since),
                        key=lambda o: o["created_at"],
                        reverse=True,
                    )
                    page = int(query.get("page", "1"))
                    chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
                    more = page * PAGE_SIZE < len(found)
                    return self._json(200, {"orders": chunk, "next_page": page + 1 if more else None})
                if url.path.startswith("/api/orders/") and url.path.split("/")[-1] in shop.orders:
                    return self._json(200, shop.orders[url.path.split("/")[-1]])
                return self._json(404, {"error": "not found"})

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
