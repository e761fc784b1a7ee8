"""Token records: (state, what the ledger holds open, this tick's decisions) → CloseTokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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

# (state, what the ledger holds open, decided actions, screens, now, actions)
OPEN_P1 = TokenView(open_phase="p1")
OPEN_P2 = TokenView(open_phase="p2")
G1_READY = TokenView(open_phase="p1", open_gate="G2", ready=("G1",))
G1_CLOSE = CloseTokens("p1", gate_only=True, reason="gate G1 ended: the next gate's boundary is settled")
COMPLETE = CloseTokens("p2", reason="sequence complete; loop agents done", at=NOW - 10, successor=False)
TOKENS: list[Any] = [
    pytest.param(state_of(phase=P1), OPEN_P1, [], {}, NOW, (), id="nothing-to-close"),
    pytest.param(state_of(phase=P1), G1_READY, [], {}, NOW, (G1_CLOSE,), id="a-gate-is-recorded-once-the-next-boundary-is-settled"),
    pytest.param(state_of(phase=P1), OPEN_P1, [GateChange("p1", "G1", "G2", "gate G2 claimed (dddddddd)")], {}, NOW, (),
                 id="a-claim-alone-records-nothing-yet"),
    pytest.param(state_of(phase=P2), OPEN_P1, [ADVANCED], {}, NOW,
                 (CloseTokens("p1", reread=True, reason="p1 done: advancing to p2", at=NOW),), id="an-advance-closes-the-ended-phase-once"),
    pytest.param(state_of(phase=P2), G1_READY, [GateChange("p1", None, "G2", "gate G2 claimed (cccccccc)"), ADVANCED], {}, NOW,
                 (CloseTokens("p1", reread=True, reason="p1 done: advancing to p2", at=NOW),),
                 id="the-phase-close-records-its-gates-itself"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE")], BUSY, NOW, (),
                 id="completion-waits-for-busy-loop-agents"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [], {}, NOW, (COMPLETE,), id="completion-closes-once-loop-agents-are-idle"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [], {"second": facts(active=True)}, NOW, (COMPLETE,),
                 id="a-busy-persistent-agent-does-not-hold-it"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [], {}, NOW - 10, (), id="not-in-the-completing-tick-itself"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [], BUSY, NOW - 10 + LAST_PHASE_WAIT, (), id="busy-within-the-wait"),
    pytest.param(state_of(phase=DONE), OPEN_P2, [], BUSY, NOW - 10 + LAST_PHASE_WAIT + 1, (COMPLETE,), id="busy-after-the-wait-closes-anyway"),
    pytest.param(state_of(phase=DONE), TokenView(), [], {}, NOW, (), id="already-closed"),
    pytest.param(state_of(phase=P1), OPEN_P2, [], {}, NOW, (CloseTokens("p2", reason="phase p2 is no longer current", at=NOW - 900),),
                 id="a-phase-left-open-ends-where-the-current-one-began"),
    pytest.param(state_of(phase=P1), OPEN_P2, [PhaseChange(None, 0, False, "phase set by hand (x)", resumed="p1", by_hand=True)], {}, NOW,
                 (), id="not-in-the-tick-the-phase-was-moved"),
]


@pytest.mark.parametrize("state,ledger,decided,screen,now,actions", TOKENS)
def test_tokens(make_config: Callable[..., Config], state: WatchdogState, ledger: TokenView, decided: list[Action],
                screen: dict[str, Any], now: float, actions: tuple[Action, ...]) -> None:
    config = make_config(LOG_TOKENS, base="loop")
    step = tokens(tick(config, state, now=now, screen=screen, tokens=ledger), decided)
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


CLAIMED_G2 = {"sha": "d" * 8, "subject": "claim(G2): lexer", "committed": NOW}


@pytest.mark.parametrize("status_done,tail", [
    # mid-phase: the claim of G2 is handed to the ledger (the executor opens the gate with its
    # commit); G1 is recorded on a later tick, once G2's boundary is settled
    pytest.param(False, [GateChange("p1", "G1", "G2", "gate G2 claimed (dddddddd)", **CLAIMED_G2)], id="next-gate"),
    # pushed with the done marker: the phase ends first (G1 is closed with it, by the ledger),
    # G2 is the ending phase's last claim, and the phase's record is read once more and closed
    pytest.param(True, [GateChange("p1", None, "G2", "gate G2 claimed (dddddddd)", **CLAIMED_G2),
                        CloseTokens("p1", reread=True, reason="p1 done: advancing to p2", at=NOW)], id="with-the-done-marker"),
])
def test_the_whole_tick_closes_records_after_the_changes(make_config: Callable[..., Config], status_done: bool, tail: list[Action]) -> None:
    config = make_config(LOG_TOKENS, base="loop")
    state = state_of(phase=P1, handoff=HandoffState(last_seen="h0", gate="G1", gate_started=NOW - 60))
    git = GitView(ok=True, head="h1", commits=(CommitView("d" * 8, "claim(G2): lexer", NOW),), status_done=status_done)
    step = decide(config, state, observation(config, git=git, tokens=TokenView(open_phase="p1", open_gate="G1")), NOW)
    assert [a for a in step.actions if isinstance(a, (GateChange, CloseTokens))] == tail
    if isinstance(tail[-1], CloseTokens):
        assert step.actions[-1] == tail[-1]  # token records come last
    assert (step.state.phase.index, step.state.handoff.gate) == ((1, None) if status_done else (0, "G2"))


SEEN = NOW + 0.4  # the observation's last witness (the Stop hook, a screen, git) was read 0.4 s into the tick


@pytest.mark.parametrize("phase,complete", [pytest.param(P1, False, id="an-advance"), pytest.param(P2, True, id="the-completion")])
def test_a_phase_ends_where_the_observation_that_saw_it_done_ended(make_config: Callable[..., Config], phase: PhaseState,
                                                                    complete: bool) -> None:
    """The loop agent's last reply is stamped before the Stop hook that let the phase end, and the
    hook was read during the observation — possibly after the tick began (`now`): the phase ends
    at the observation's end, so that reply is the ended phase's (issue 13's late-reply gap)."""
    config = make_config(LOG_TOKENS, base="loop")
    state = state_of(phase=phase)
    seen = replace(observation(config, git=GitView(ok=True, head="h1", status_done=True), tokens=TokenView(open_phase=f"p{phase.index + 1}")),
                   observed_at=SEEN)
    step = decide(config, state, seen, NOW)
    if complete:
        assert step.state.phase.complete and step.state.phase.completed_at == SEEN
        closed = tokens(tick(config, step.state, now=NOW + 2, tokens=TokenView(open_phase="p2")), []).actions
        assert closed == (CloseTokens("p2", reason="sequence complete; loop agents done", at=SEEN, successor=False),)
    else:
        assert [a for a in step.actions if isinstance(a, CloseTokens)] == [
            CloseTokens("p1", reread=True, reason="p1 done: advancing to p2", at=SEEN)]
        assert step.state.phase.started == SEEN  # a ledger that misses the close ends p1 there too
    # an observer that does not say when it ended: the tick's own time, as before
    step = decide(config, state, replace(seen, observed_at=None), NOW)
    assert (step.state.phase.completed_at if complete else [a.at for a in step.actions if isinstance(a, CloseTokens)]) == \
        (NOW if complete else [NOW])
