"""Example Shop in the real CourseSignal, over HTTP: it shows up on the Connections page, a wrong key gets
the sentence, the right one connects and syncs 30 days, and a webhook delivered to the URL the connection
page shows is stored, confirmed through the API and counted (a forged one is not)."""

from __future__ import annotations

import ast
import html
from collections.abc import Callable
from pathlib import Path

import pytest

from coursesignal.testing import LiveApp, LiveAppError

PACKAGE = Path(__file__).parent / "coursesignal_example_shop"


def test_the_installed_plugin_connects_syncs_and_receives_a_webhook(
    coursesignal_live_app: Callable[..., LiveApp], shop
) -> None:  # type: ignore[no-untyped-def]
    for number in range(30):
        shop.add_order(4_900, f"buyer{number}@example.com", days_ago=number % 29 + 0.5)
    shop.add_order(9_900, "old@example.com", days_ago=40)
    # The operator points the plugin at the fake, as COURSESIGNAL_EXAMPLE_SHOP_API_URL=... would.
    app = coursesignal_live_app(api_urls={"example_shop": shop.base_url})
    creator = app.sign_up()

    assert "Example Shop" in html.unescape(creator.get("/connections/").text)
    assert "Settings > API" in html.unescape(creator.get("/connections/new/example_shop").text)
    with pytest.raises(LiveAppError, match="refused this API key"):
        creator.connect("example_shop", {"api_key": "nope"})

    connection = creator.connect("example_shop", {"api_key": shop.api_key})
    status = creator.connection(connection.id)
    assert (status["status"], status["progress"]["purchases_found"], status["progress"]["pages_done"]) == (
        "connected",
        30,
        2,
    )
    assert connection.webhook_url is not None
    assert connection.webhook_url.startswith(f"{app.base_url}/webhooks/example_shop/{connection.id}/")

    order = shop.add_order(19_700, "new@example.com", days_ago=0)
    assert app.deliver(connection.webhook_url, shop.event(order)).status_code == 202
    forged = shop.event({**order, "id": "ord_99999"})
    assert app.deliver(connection.webhook_url, forged).status_code == 202  # authentic URL, unknown order
    assert app.deliver(connection.webhook_url, b"{not json").status_code == 400
    assert app.deliver(connection.webhook_url + "x", shop.event(order)).status_code == 404
    app.wait_for_jobs()

    purchases = creator.purchases()
    assert len(purchases) == 31
    assert "new@example.com" in {row["email"] for row in purchases}
    assert "ord_99999" not in {row["platform_purchase_id"] for row in purchases}


def test_the_plugin_imports_nothing_of_coursesignal_but_its_public_module() -> None:
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {name for name in imported if name.split(".")[0] in {"core", "adapters", "plugins", "coursesignal"}}
    assert ours == {"coursesignal"}
