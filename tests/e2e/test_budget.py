"""End to end: a token budget holds the team, and raising it lets the run finish.

examples/builder-adversary with the real Claude Code CLI against the scripted model, in a sandbox
(its own tmux socket, prefix and model port), with `[watchdog.token_budget] phase = 100_000`. The
playbook's p1 spends more than that around the claim of G1 (the orchestrator's and the
adversary's first replies, 11,580 + 17,760, and the builder's four, 4 × 20,400): the watchdog warns
at 80% (a `budget` event), then holds both loop agents (`needs-human` with the figure), the next
ping waits in its agent's outbox and the phase does not advance; `status` says so. Then the
budget is raised in agents.toml: the hold is released and the waiting ping goes out. (The run is
stopped there: the rest of it is tests/e2e/test_rehearsal.py's, and CI time is short.)
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _COPY_IGNORE, _leftovers, _remove_cli_temp, free_port, sandbox_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "builder-adversary"
PHASE_BUDGET = 100_000

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]


def set_budget(config: Path, phase: int) -> None:
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    raw["watchdog"]["token_budget"] = {"phase": phase}
    config.write_text(tomli_w.dumps(raw), encoding="utf-8")


def wait_for(what: str, check: Callable[[], Any], timeout: float, diagnose: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{diagnose()}")
        time.sleep(0.5)
    return got


def test_a_tiny_budget_holds_the_team_until_it_is_raised(claude: str) -> None:
    sandbox = Path(tempfile.mkdtemp(prefix="ao-budget-"))
    work = sandbox / EXAMPLE.name
    token = secrets.token_hex(3)
    runtime = TmuxRuntime(f"ao-budget-{token}")
    project = None
    try:
        shutil.copytree(EXAMPLE, work, ignore=_COPY_IGNORE)
        subprocess.run(["bash", "setup.sh"], cwd=work, check=True, capture_output=True)
        config = work / "agents.toml"
        sandbox_config(config, socket_name=runtime.socket or "", prefix=f"b{token}-", port=free_port(), bins={"claude": claude})
        set_budget(config, PHASE_BUDGET)
        project = Project(load_config(config), runtime)
        log_dir = project.log_dir

        def events(action: str | None = None) -> list[dict[str, Any]]:
            return [e for e in read_events(log_dir) if action is None or e["action"] == action]

        def diagnose() -> str:
            return "\n".join(f"{e['ts']:.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}" for e in events())

        outcomes = project.up()
        assert not [o for o in outcomes if o.failed], outcomes

        # 80%, then the hold: both loop agents, with the figure
        warned = wait_for("the budget warning", lambda: events("budget"), 120, diagnose)
        assert warned[0]["reason"].startswith("token budget: phase p1 used ") and warned[0]["limit"] == PHASE_BUDGET
        assert warned[0]["used"] >= 0.8 * PHASE_BUDGET
        held = wait_for("the hold", lambda: {e["agent"]: e for e in events("needs-human") if e.get("budget") == "phase p1"}
                        if len({e["agent"] for e in events("needs-human")}) >= 2 else None, 120, diagnose)
        assert set(held) == {"builder", "adversary"}
        assert all(e["used"] >= PHASE_BUDGET and "of 100,000 tokens" in e["reason"] for e in held.values())
        state = load_state(log_dir)
        assert state.budget.held == "phase p1" and state.agent("builder").needs_human.startswith("token budget: phase p1 used ")

        # held: the next ping (the claim to the adversary, or — when that went out before the hold —
        # the verdict to the builder) waits in the outbox, and p1 does not end, tick after tick
        waiting = wait_for("a ping waiting for a held agent", lambda: [
            (n, m.reason) for n in ("builder", "adversary") for m in load_state(log_dir).agent(n).outbox if m.kind == "ping"], 120, diagnose)
        pinged = [(e["agent"], e["reason"]) for e in events("ping")]
        since = load_state(log_dir).last_tick or 0.0
        wait_for("three more ticks", lambda: (load_state(log_dir).last_tick or 0.0) >= since + 3 * project.config.watchdog.signal_interval,
                 60, diagnose)
        assert not events("phase-advance") and [(e["agent"], e["reason"]) for e in events("ping")] == pinged, diagnose()
        assert set(waiting) <= {(n, m.reason) for n in ("builder", "adversary") for m in load_state(log_dir).agent(n).outbox}
        status = CliRunner().invoke(app, normalize_argv(["status", "--config", str(config)]))
        text = " ".join(status.output.split())
        assert status.exit_code == 0 and "token budget: phase p1 used" in text, status.output
        assert "holding builder, adversary (needs-human)" in text and "`agents resume builder` to go on" in text, status.output

        # raised: released at the next tick, and the ping that waited goes out
        set_budget(config, 10 * PHASE_BUDGET)
        released = wait_for("the release", lambda: events("budget-released"), 60, diagnose)
        assert "the budget was raised" in released[0]["reason"]

        def delivered() -> bool:
            new = [(e["agent"], e["reason"]) for e in events("ping")][len(pinged):]
            return all(any(a == n and r.startswith(why) for a, r in new) for n, why in waiting)

        wait_for("the waiting ping delivered", delivered, 90, diagnose)
        wait_for("the hold gone from the saved state", lambda: (st := load_state(log_dir)) and not st.budget.held
                 and not st.agent("builder").needs_human and not st.agent("adversary").needs_human, 30, diagnose)
    finally:
        if project is not None:
            project.down()
        runtime.kill_server()
        deadline = time.monotonic() + 15
        while (left := _leftovers(sandbox, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
        _remove_cli_temp(sandbox)
        shutil.rmtree(sandbox, ignore_errors=True)
    assert left == [], f"left behind: {left}"
