"""The example third-party plugin, installed by its own entry point (`make install` does it), shows up
on the connect screen, syncs and receives a webhook, with nothing in CourseSignal changed for it."""

from __future__ import annotations

import ast
import dataclasses
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import sign_in
from tests.example_plugin.fake_shop import FakeShop
from tests.web_session import post_form

PACKAGE = Path(__file__).parent / "coursesignal_example_shop"


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    with FakeShop() as fake:
        yield fake


@pytest.fixture
def settings(settings, shop: FakeShop):  # type: ignore[no-untyped-def]
    """The operator points the plugin at the fake: COURSESIGNAL_EXAMPLE_SHOP_API_URL would do the same."""
    return dataclasses.replace(settings, platform_api_urls={"example_shop": shop.base_url})


def test_the_installed_plugin_connects_syncs_and_receives_a_webhook(client, container, shop: FakeShop) -> None:  # type: ignore[no-untyped-def]
    for number in range(30):
        shop.add_order(4_900, f"buyer{number}@example.com", days_ago=number % 29 + 0.5)
    shop.add_order(9_900, "old@example.com", days_ago=40)
    sign_in(client, container)

    listing = html.unescape(client.get("/connections/").get_data(as_text=True))
    assert "Example Shop" in listing
    form = html.unescape(client.get("/connections/new/example_shop").get_data(as_text=True))
    assert "Settings > API" in form

    wrong = post_form(client, "/connections/new/example_shop", {"api_key": "nope"})
    assert wrong.status_code == 422
    assert "refused this API key" in html.unescape(wrong.get_data(as_text=True))
    created = post_form(client, "/connections/new/example_shop", {"api_key": shop.api_key})
    assert created.status_code == 302
    page_url = created.headers["Location"]
    container.gateways.job_queue().wait_until_idle()
    status = client.get(f"/api/v1{page_url}").json
    assert (status["status"], status["progress"]["purchases_found"]) == ("connected", 30)
    assert status["progress"]["pages_done"] == 2

    page = html.unescape(client.get(page_url).get_data(as_text=True))
    (hook_url,) = re.findall(r'<code class="webhook-url">([^<]+)</code>', page)
    hook_path = hook_url.removeprefix("http://coursesignal.test")
    assert hook_path.startswith(f"/webhooks/example_shop/{page_url.rstrip('/').split('/')[-1]}/")

    order = shop.add_order(19_700, "new@example.com", days_ago=0)
    assert client.post(hook_path, data=shop.event(order)).status_code == 202
    forged = shop.event({**order, "id": "ord_99999"})
    assert client.post(hook_path, data=forged).status_code == 202  # authentic URL, but the API knows no such order
    assert client.post(hook_path, data=b"{not json").status_code == 400
    assert client.post(hook_path + "x", data=shop.event(order)).status_code == 404
    container.gateways.job_queue().wait_until_idle()
    purchases = client.get("/api/v1/purchases").json
    rows = purchases["purchases"] if isinstance(purchases, dict) else purchases
    assert "new@example.com" in {row["email"] for row in rows}
    assert "ord_99999" not in {row["platform_purchase_id"] for row in rows}
    assert client.get("/api/v1/reports/summary").status_code == 200


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
