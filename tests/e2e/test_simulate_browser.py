"""`coursesignal simulate --browser N`: journeys played in chromium with the served t.js give the figures the
model gives on the same journeys (the Teachable scenario: hand-offs to the school, clicks to its checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.simulator.browser import agreement
from coursesignal.cli import main
from coursesignal.simulator import run_in_browser
from tests.conftest import CHROMIUM, require

pytestmark = pytest.mark.browser


def test_journeys_in_chromium_agree_with_the_model(tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (apt-get install chromium)")
    real, model = run_in_browser("teachable", seed=1, count=5, chromium=CHROMIUM, directory=tmp_path)
    assert real.purchases == 5
    assert real.hits > 5 * 3
    assert real.by_method  # the sales were matched, by the rules the model used too
    assert agreement(real, model) == []


def test_the_command_prints_the_table_and_the_agreement() -> None:
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (apt-get install chromium)")
    result = CliRunner().invoke(main, ["simulate", "--browser", "2", "--chromium", CHROMIUM])
    assert result.exit_code == 0, result.output
    assert "== default: the first 2 sales' journeys, played in chromium with the served t.js" in result.output
    assert "first touch right" in result.output
    assert "the model run on the same 2 sales gives the same figures" in result.output
    refused = CliRunner().invoke(main, ["simulate", "--browser", "2", "--http"])
    assert refused.exit_code != 0
