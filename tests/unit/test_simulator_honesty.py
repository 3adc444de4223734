"""The simulator emits only what the real tracker can send: the event kinds and payload fields are read from
the built t.js (adapters/web/static/t.js, the file /t.js serves), and every scenario's hits are checked
against them, with the tracker's own rules for what a click is and what a landing URL keeps."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from adapters.simulator.playing import collect_body
from adapters.simulator.scenarios import SCENARIOS
from adapters.simulator.traffic import Hit, generate
from core.domain.checkout import is_checkout_url
from core.domain.identities import HANDOFF_PARAM

BUNDLE = Path(__file__).resolve().parents[2] / "adapters" / "web" / "static" / "t.js"


def tracker_vocabulary() -> tuple[set[str], set[str]]:
    """The event kinds and payload keys the built script can send: its one sender builds the body with
    `JSON.stringify({key: ..., ...})`, and every event goes through it with a literal kind."""
    text = BUNDLE.read_text("utf-8")
    sender = re.search(r"(\w+)=\([\w,]*\)=>\{[^{}]*?JSON\.stringify\(\{([^{}]*)\}\)", text)
    assert sender is not None, "no sender building a JSON body found in t.js"
    name, body = sender.groups()
    fields = {entry.split(":", 1)[0] for entry in body.split(",")}
    kinds = set(re.findall(rf"(?<![\w.$]){re.escape(name)}\(\"(\w+)\"", text))
    assert "JSON.stringify" not in text.replace(sender.group(0), ""), "a second sender: read it too"
    return kinds, fields


def test_the_vocabulary_read_from_the_built_script() -> None:
    # What DESIGN.md and tracker/README.md say the script sends; if this fails, the reading above is wrong.
    assert tracker_vocabulary() == ({"pageview", "identify", "click"}, {"s", "n", "i", "v", "u", "r", "e"})


def test_every_scenario_emits_only_what_the_tracker_can_send() -> None:
    kinds, fields = tracker_vocabulary()
    for scenario in SCENARIOS.values():
        traffic = generate(replace(scenario, people=60, buyer_share=0.5), 1)
        hits = [item for _, _, item in traffic.timeline if isinstance(item, Hit)]
        assert hits, scenario.name
        for hit in hits:
            body = collect_body(hit, "cs_site")
            assert body["n"] in kinds, (scenario.name, body)
            assert set(body) <= fields, (scenario.name, body)
            # the script sends a click only for one through to a checkout, and strips the hand-off
            # parameter from the landing URL before it sends anything
            assert hit.kind.value != "click" or is_checkout_url(hit.url), (scenario.name, hit.url)
            assert f"{HANDOFF_PARAM}=" not in hit.url, (scenario.name, hit.url)
            assert ("e" in body) == (body["n"] == "identify"), (scenario.name, body)
