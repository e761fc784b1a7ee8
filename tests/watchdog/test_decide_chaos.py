"""Regression tests for what the chaos suite (tests/support/chaos.py, tests/e2e/test_chaos.py,
bench/chaos.py) found, as one `decide` over a state and an observation: the moment a SIGKILLed
watchdog left things, replayed without any I/O. Whole ticks over fakes: test_ticks_chaos.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.truth.hook_events import prompt_digest
from agent_orchestrator.truth.model import HookState, PromptSeen
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import GitView
from agent_orchestrator.watchdog.policies.outbox import ACCEPT_GRACE
from agent_orchestrator.watchdog.state import AgentState, Message, PhaseState
from tests.support.policies import NOW, facts, kinds, observation, state_of, write_config

LOOP = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]

[loop.handoff]
claim_pings = "adversary"
review_pings = "builder"

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "adversary"
kind = "loop"
"""

PING = "Watchdog: new review on origin/main: 938da1f3 review(G1): PASS. git pull, read the verdict and act on it."


@pytest.fixture
def loop(tmp_path: Path) -> Config:
    return write_config(tmp_path, LOOP)


def test_a_ping_the_old_session_accepted_is_not_sent_again_after_a_phase_advance(loop: Config) -> None:
    """Seen in bench/chaos.py (seed 11): the watchdog was killed after the ping's submit and
    before its checkpoint; the next one advanced the phase in its first tick, and the restart
    re-queued the "sending" ping, so the builder's new p2 session got p1's review ping again —
    though the old session's UserPromptSubmit for it was already folded in."""
    sending = Message("builder-ping-1", "ping", PING, "review: review(G1): PASS", NOW - 3, prompt_digest(PING), "review",
                      ("938da1f3 review(G1): PASS",), state="sending", sent_at=NOW - 2)
    accepted = HookState(turn="idle", prompts=(PromptSeen(prompt_digest(PING), "p-1", NOW - 1.5),), last_event_at=NOW - 1)
    state = state_of(phase=PhaseState(index=0, started=NOW - 600),
                     builder=AgentState(idle_since=NOW - 1, facts=facts(), outbox=(sending,), hooks=accepted),
                     adversary=AgentState(idle_since=NOW - 30, facts=facts()))
    git = GitView(ok=True, head="c" * 40, status_done=True)
    step = decide(loop, state, observation(loop, git=git), NOW)
    assert ("Start", "builder", "advance") in kinds(step.actions)
    assert step.state.phase.index == 1
    assert step.state.agent("builder").outbox == ()  # delivered to the p1 session: done
    assert not [k for k in kinds(step.actions) if k[0] == "Deliver"]


def test_a_sending_ping_without_evidence_still_waits_for_the_new_session(loop: Config) -> None:
    sending = Message("builder-ping-1", "ping", PING, "review", NOW - 3, prompt_digest(PING), "review", state="sending", sent_at=NOW - 2)
    state = state_of(phase=PhaseState(index=0, started=NOW - 600),
                     builder=AgentState(idle_since=NOW - 1, facts=facts(), outbox=(sending,), hooks=HookState(turn="idle")),
                     adversary=AgentState(idle_since=NOW - 30, facts=facts()))
    step = decide(loop, state, observation(loop, git=GitView(ok=True, head="c" * 40, status_done=True)), NOW)
    assert [(m.id, m.state) for m in step.state.agent("builder").outbox] == [("builder-ping-1", "queued")]


def test_a_ping_submitted_right_before_a_kill_waits_for_its_hook_instead_of_going_again(tmp_path: Path) -> None:
    """Finding 1 at the killer's "submit" moment (tests/support/chaos.py): the watchdog died right
    after the submit key; its successor, back in ~0.5 s, finds the message "sending" and the box
    empty before the CLI (under load) ran its UserPromptSubmit hook. Handed over again at once,
    the claim reached the agent twice; it now waits ACCEPT_GRACE seconds for the hook first."""
    config = write_config(tmp_path, LOOP.replace('backend = "demo"', 'backend = "claude"'))
    sending = Message("builder-ping-1", "ping", PING, "review: review(G1): PASS", NOW - 3, prompt_digest(PING), "review",
                      ("938da1f3 review(G1): PASS",), state="sending", sent_at=NOW - 1)
    live = HookState(turn="idle", last_event_at=NOW - 5)

    def step(now: float, hooks: HookState) -> Any:
        state = state_of(phase=PhaseState(index=0, started=NOW - 600),
                         builder=AgentState(idle_since=NOW - 30, facts=facts(), outbox=(sending,), hooks=hooks),
                         adversary=AgentState(idle_since=NOW - 30, facts=facts()))
        return decide(config, state, observation(config, git=GitView(ok=True, head="c" * 40)), now)

    waiting = step(NOW, live)
    assert not [k for k in kinds(waiting.actions) if k[0] == "Deliver"]
    assert [m.state for m in waiting.state.agent("builder").outbox] == ["sending"]
    accepted = step(NOW + 2, replace(live, prompts=(PromptSeen(prompt_digest(PING), "p-1", NOW + 1),), last_event_at=NOW + 1))
    assert accepted.state.agent("builder").outbox == () and ("Note", "builder", "ping") in kinds(accepted.actions)
    never = step(NOW - 1 + ACCEPT_GRACE, live)
    assert ("Deliver", "builder", "submit") in kinds(never.actions)
