"""`status` shows token budgets: a line from `warn` of a budget on, the hold with how to release it,
and the figures in `status --json`. The saved state is written as the watchdog writes it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.watchdog.state import AgentState, BudgetState, WatchdogState, save_state
from tests.support.tmux import write_config

runner = CliRunner()
HOLD = "token budget: phase p1 used 110,940 of 100,000 tokens (111%); raise [watchdog.token_budget] or `agents restart`/`resume` one of them to go on"
BODY = """
[watchdog]
log_tokens = true
token_budget = { run = 1_000_000, phase = 100_000 }

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "s1.md" }]

[[agent]]
name = "builder"
kind = "loop"
"""


def agents(*args: str) -> str:
    result = runner.invoke(app, normalize_argv(list(args)))
    assert result.exit_code == 0, result.output
    return result.output


def project(tmp_path: Path, socket: str, budget: BudgetState, **agent_states: AgentState) -> Path:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}")
    (tmp_path / "plan.md").write_text("plan")
    path = write_config(tmp_path, socket, BODY)
    save_state(tmp_path / "run", WatchdogState(agents=agent_states, budget=budget))
    return path


def test_a_held_budget_in_status_and_json(tmp_path: Path, socket: str) -> None:
    held = BudgetState(used={"run": 110_940, "phase p1": 110_940}, limits={"run": 1_000_000, "phase p1": 100_000},
                       warned=("phase p1",), held="phase p1", held_limit=100_000, held_agents=("builder",), hold=HOLD)
    config = project(tmp_path, socket, held, builder=AgentState(needs_human=HOLD))
    text = " ".join(agents("status", "--config", str(config)).split())
    assert ("token budget: phase p1 used 110,940 of 100,000 tokens (111%) — holding builder (needs-human); "
            "raise [watchdog.token_budget] phase or `agents resume builder` to go on") in text
    assert "needs-human" in text
    payload = json.loads(agents("status", "--json", "--config", str(config)))
    assert payload["budget"]["held"] == "phase p1" and payload["budget"]["held_agents"] == ["builder"]
    assert payload["budget"]["used"] == {"run": 110_940, "phase p1": 110_940}
    assert next(a for a in payload["agents"] if a["name"] == "builder")["held"] == HOLD


def test_a_warning_line_from_80_percent(tmp_path: Path, socket: str) -> None:
    warned = BudgetState(used={"run": 850_000, "phase p1": 20_000}, limits={"run": 1_000_000, "phase p1": 100_000}, warned=("run",))
    text = " ".join(agents("status", "--config", str(project(tmp_path, socket, warned))).split())
    assert "token budget: run used 850,000 of 1,000,000 tokens (85%) (warns at 80%)" in text
    assert "phase p1 used" not in text


def test_quiet_under_the_warning(tmp_path: Path, socket: str) -> None:
    low = BudgetState(used={"run": 100}, limits={"run": 1_000_000})
    assert "token budget" not in agents("status", "--config", str(project(tmp_path, socket, low)))
