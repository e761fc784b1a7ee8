"""Token records: (state, what the ledger holds open, this tick's decisions) → CloseTokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Action, CloseTokens, CommitView, GateChange, GitView, PhaseChange, TokenView
from agent_orchestrator.watchdog.policies.tokens import LAST_PHASE_WAIT, tokens
from agent_orchestrator.watchdog.state import HandoffState, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, observation, state_of, tick

LOG_TOKENS = "[watchdog]\nlog_tokens = true\n"
P1 = PhaseState(index=0, started=NOW - 900)
P2 = PhaseState(index=1, started=NOW - 900)
DONE = PhaseState(index=1, started=NOW - 900, complete=True, completed_at=NOW - 10)
ADVANCED = PhaseChange("p1", 1, False, "p1 done: advancing to p2")
BUSY = {"builder": facts(active=True)}

# (state, open phase in the ledger, decided actions, screens, now, actions)
TOKENS: list[Any] = [
    pytest.param(state_of(phase=P1), "p1", [], {}, NOW, (), id="nothing-to-close"),
    pytest.param(state_of(phase=P1), "p1", [GateChange("p1", "G1", "G2", "gate G2 claimed (dddddddd)")], {}, NOW,
                 (CloseTokens("p1", gate_only=True, reason="gate G1 ended: G2 claimed"),), id="a-gate-ends-when-the-next-is-claimed"),
    pytest.param(state_of(phase=P1), "p1", [GateChange("p1", None, "G1", "gate G1 claimed (aaaaaaaa)")], {}, NOW, (),
                 id="the-first-gate-ends-nothing"),
    pytest.param(state_of(phase=P2), "p1", [ADVANCED], {}, NOW, (CloseTokens("p1", reread=True, reason="p1 done: advancing to p2"),),
                 id="an-advance-closes-the-ended-phase-once"),
    pytest.param(state_of(phase=P2), "p1", [GateChange("p1", None, "G2", "gate G2 claimed (cccccccc)"), ADVANCED], {}, NOW,
                 (CloseTokens("p1", reread=True, reason="p1 done: advancing to p2"),), id="a-first-gate-claimed-with-the-done-marker"),
    pytest.param(state_of(phase=DONE), "p2", [PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE")], BUSY, NOW, (),
                 id="completion-waits-for-busy-loop-agents"),
    pytest.param(state_of(phase=DONE), "p2", [], {}, NOW, (CloseTokens("p2", reason="sequence complete; loop agents done"),),
                 id="completion-closes-once-loop-agents-are-idle"),
    pytest.param(state_of(phase=DONE), "p2", [], {"second": facts(active=True)}, NOW,
                 (CloseTokens("p2", reason="sequence complete; loop agents done"),), id="a-busy-persistent-agent-does-not-hold-it"),
    pytest.param(state_of(phase=DONE), "p2", [], {}, NOW - 10, (), id="not-in-the-completing-tick-itself"),
    pytest.param(state_of(phase=DONE), "p2", [], BUSY, NOW - 10 + LAST_PHASE_WAIT, (), id="busy-within-the-wait"),
    pytest.param(state_of(phase=DONE), "p2", [], BUSY, NOW - 10 + LAST_PHASE_WAIT + 1,
                 (CloseTokens("p2", reason="sequence complete; loop agents done"),), id="busy-after-the-wait-closes-anyway"),
    pytest.param(state_of(phase=DONE), None, [], {}, NOW, (), id="already-closed"),
    pytest.param(state_of(phase=P1), "p2", [], {}, NOW, (CloseTokens("p2", reason="phase p2 is no longer current"),),
                 id="a-phase-left-open-is-closed"),
    pytest.param(state_of(phase=P1), "p2", [PhaseChange(None, 0, False, "phase set by hand (x)", resumed="p1", by_hand=True)], {}, NOW, (),
                 id="not-in-the-tick-the-phase-was-moved"),
]


@pytest.mark.parametrize("state,open_phase,decided,screen,now,actions", TOKENS)
def test_tokens(make_config: Callable[..., Config], state: WatchdogState, open_phase: str | None, decided: list[Action],
                screen: dict[str, Any], now: float, actions: tuple[Action, ...]) -> None:
    config = make_config(LOG_TOKENS, base="loop")
    step = tokens(tick(config, state, now=now, screen=screen, tokens=TokenView(open_phase=open_phase)), decided)
    assert step.actions == actions
    assert step.state == state


@pytest.mark.parametrize("log_tokens,ledger", [
    pytest.param(False, TokenView(open_phase="p1"), id="not-logging"),
    pytest.param(True, None, id="no-ledger-observed"),
])
def test_no_records_without_logging_or_a_ledger(make_config: Callable[..., Config], log_tokens: bool, ledger: TokenView | None) -> None:
    config = make_config(LOG_TOKENS if log_tokens else "", base="loop")
    state = state_of(phase=P2)
    step = tokens(tick(config, state, tokens=ledger), [ADVANCED, GateChange("p1", "G1", "G2")])
    assert step.actions == () and step.state == state


@pytest.mark.parametrize("status_done,tail", [
    # mid-phase: the claim of G2 ends G1, whose record is closed after the gate change
    pytest.param(False, [GateChange("p1", "G1", "G2", "gate G2 claimed (dddddddd)"),
                         CloseTokens("p1", gate_only=True, reason="gate G1 ended: G2 claimed")], id="next-gate"),
    # pushed with the done marker: the phase ends first (G1 is closed with it, by the ledger),
    # G2 is the ending phase's last claim, and the phase's record is read once more and closed
    pytest.param(True, [GateChange("p1", None, "G2", "gate G2 claimed (dddddddd)"),
                        CloseTokens("p1", reread=True, reason="p1 done: advancing to p2")], id="with-the-done-marker"),
])
def test_the_whole_tick_closes_records_after_the_changes(make_config: Callable[..., Config], status_done: bool, tail: list[Action]) -> None:
    config = make_config(LOG_TOKENS, base="loop")
    state = state_of(phase=P1, handoff=HandoffState(last_seen="h0", gate="G1", gate_started=NOW - 60))
    git = GitView(ok=True, head="h1", commits=(CommitView("d" * 8, "claim(G2): lexer", NOW),), status_done=status_done)
    step = decide(config, state, observation(config, git=git, tokens=TokenView(open_phase="p1", open_gate="G1")), NOW)
    assert [a for a in step.actions if isinstance(a, (GateChange, CloseTokens))] == tail
    assert step.actions[-1] == tail[-1]  # token records come last
    assert (step.state.phase.index, step.state.handoff.gate) == ((1, None) if status_done else (0, "G2"))
