"""`[watchdog.token_budget]`: its shape, and bad values as exact one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from tests.config.test_load import errors, write


@pytest.mark.parametrize("body", [
    "[watchdog]\nlog_tokens = true\ntoken_budget = { run = 5_000_000, phase = 1_500_000 }\n",
    "[watchdog]\nlog_tokens = true\n[watchdog.token_budget]\nrun = 5_000_000\nphase = 1_500_000\nwarn = 0.8\n",
])
def test_inline_or_as_a_table(tmp_path: Path, body: str) -> None:
    budget = load_config(write(tmp_path, body)).watchdog.token_budget
    assert budget is not None and (budget.run, budget.phase, budget.warn) == (5_000_000, 1_500_000, 0.8)


def test_no_budget_by_default(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).watchdog.token_budget is None


@pytest.mark.parametrize("body,expected", [
    pytest.param("token_budget = { run = 0 }", ["watchdog.token_budget.run: expected a value > 0, got 0"], id="zero"),
    pytest.param("token_budget = { phase = 1.5e6 }", ["watchdog.token_budget.phase: expected an integer, got 1500000.0"], id="a-float"),
    pytest.param("token_budget = { phase = \"1M\" }", ['watchdog.token_budget.phase: expected an integer, got "1M"'], id="a-string"),
    pytest.param("token_budget = { runs = 10 }", ['watchdog.token_budget.runs: unknown key; did you mean "run"?'], id="misspelt"),
    pytest.param("token_budget = { run = 10, warn = 1.5 }",
                 ["watchdog.token_budget.warn: expected a share of the budget in (0, 1], e.g. 0.8; got 1.5"], id="warn-over-one"),
    pytest.param("token_budget = 1000", ["watchdog.token_budget: expected a table, got 1000"], id="not-a-table"),
])
def test_bad_budgets(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert errors(tmp_path, f"[watchdog]\nlog_tokens = true\n{body}\n") == expected


def test_a_budget_needs_the_ledger(tmp_path: Path) -> None:
    assert errors(tmp_path, "[watchdog]\ntoken_budget = { phase = 100 }\n") == [
        "watchdog.token_budget: a token budget needs the token ledger: set [watchdog] log_tokens = true"]
