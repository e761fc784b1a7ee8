"""Regression tests for the two bugs the core review reproduced (shared/reviews/core-2026-12.md).

Probe 1: a phase advance while the builder's old screen shows a usage-limit banner and a trust
dialog must not open a limit window on (or spend a dialog answer for) the session being replaced.
Probe 2: a kickoff template broken after validation must not lose a claim ping decided in the
same tick.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import CommitView, GitView, Send, Start
from agent_orchestrator.watchdog.policies import run_policies
from agent_orchestrator.watchdog.state import WatchdogState
from tests.watchdog.policies.test_phases import config, tick  # noqa: F401  (fixture)
from tests.watchdog.policies.test_policies import NOW, facts


def test_probe1_no_limit_window_or_dialog_answer_for_a_session_being_replaced(config: Config) -> None:  # noqa: F811
    state = WatchdogState()
    state.agent("builder").facts = facts(limit_banner="You've hit your session limit · resets 3pm", dialog="trust",
                                          dialog_keys=["Enter"])
    t = tick(config, state, GitView(ok=True, head="a" * 40, status_done=True))
    t.views["builder"] = replace(t.views["builder"], facts=state.agent("builder").facts)
    actions = run_policies(t)
    assert Start("builder", "phase p2", action="advance") in actions
    assert t.state.agent("builder").limit is None
    assert t.state.agent("builder").dialogs_answered == 0
    assert not [a for a in actions if getattr(a, "agent", "") == "builder" and getattr(a, "action", "") == "usage-limit"]


def test_probe2_a_broken_kickoff_does_not_lose_the_claim_ping(config: Config, tmp_path: Path) -> None:  # noqa: F811
    state = WatchdogState()
    state.handoff.last_seen = "0" * 40
    state.agent("builder").next_wake_at = NOW - 1
    builder = config.agent("builder")
    assert builder is not None
    from agent_orchestrator.config.schema import WakeConfig

    builder.wake = WakeConfig(interval=60, prompt="")
    (tmp_path / "kickoff.md").write_text("Phase {typo}")  # edited after validation
    git = GitView(ok=True, head="b" * 40, commits=(CommitView("b" * 40, "claim(G1): parser", NOW),))
    t = tick(config, state, git)
    try:
        actions = run_policies(t)
    except KeyError:
        actions = []
    assert any(isinstance(a, Send) and a.agent == "adversary" and a.kind == "ping" for a in actions)
