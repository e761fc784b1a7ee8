"""CLI requests: (state, request files) → holds cleared, pauses, phases set by hand — each applied once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Action, Note, PhaseChange, Request, Start
from agent_orchestrator.watchdog.policies.requests import KEEP_DONE, requests
from agent_orchestrator.watchdog.state import AgentState, HandoffState, LimitWindow, Message, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, kinds, observation, state_of, tick

HELD = AgentState(idle_since=NOW - 900, facts=facts(), last_start=NOW - 700, restarts=(NOW - 300, NOW - 200, NOW - 100), failed_starts=3,
                  next_restart_at=NOW + 40, needs_human="3 restarts within 600s", limit=LimitWindow("b", None, NOW + 60, NOW - 60),
                  outbox=(Message("m1", "nudge", "t", "r", NOW - 5, "d"),), dialogs_answered=2, nudged_phase="p1", next_wake_at=NOW + 10)
CLEARED = AgentState(idle_since=NOW, last_start=NOW, nudged_phase="p1", next_wake_at=NOW + 10)  # a clean slate, not yet started
DONE_P2 = PhaseState(index=1, started=NOW - 900, complete=True, completed_at=NOW - 60, on_complete="started", on_complete_phases=2)
BY_HAND = "phase set by hand (redo p1)"
SET_P1 = (PhaseChange(None, 0, False, BY_HAND, resumed="p1", by_hand=True),
          Start("builder", BY_HAND, kind="advance"), Start("adversary", BY_HAND, kind="advance"))


def restarted_loop(state: WatchdogState) -> WatchdogState:
    """The loop agents as a phase set by hand leaves them: started fresh now (not counted)."""
    for name in ("builder", "adversary"):
        state = state.update_agent(name, last_start=NOW, idle_since=NOW, facts=None, last_activity=None, dialogs_answered=0)
    return state


# (state, requests, actions, state after — requests_done aside)
REQUESTS: list[Any] = [
    pytest.param(state_of(second=HELD), [Request("r1", "clear", "second")], (Note("second", "cleared", "restarted by hand (agents restart)"),),
                 state_of(second=CLEARED), id="clear-forgets-every-hold"),
    pytest.param(state_of(), [Request("r1", "pause", "second")], (Note("second", "pause", "paused by hand"),),
                 state_of(second=AgentState(paused=True)), id="pause"),
    pytest.param(state_of(second=AgentState(paused=True)), [Request("r1", "resume", "second")], (Note("second", "resume", "resumed by hand"),),
                 state_of(second=AgentState(paused=False)), id="resume"),
    pytest.param(state_of(phase=DONE_P2, handoff=HandoffState(gate="G3", gate_started=NOW - 9), builder=AgentState(nudged_phase="p2")),
                 [Request("r1", "phase", index=0, why="redo p1")], SET_P1,
                 restarted_loop(state_of(phase=PhaseState(index=0, started=NOW, on_complete="started", on_complete_phases=2),
                                         handoff=HandoffState(gate="G3", gate_started=NOW - 9), builder=AgentState())),
                 id="phase-set"),
    pytest.param(state_of(phase=DONE_P2, handoff=HandoffState(gate="G3", gate_started=NOW - 9)),
                 [Request("r1", "phase", index=0, reset=True, why="redo p1")], SET_P1,
                 restarted_loop(state_of(phase=PhaseState(index=0, started=NOW))), id="phase-reset"),
    pytest.param(state_of(phase=DONE_P2), [Request("r1", "phase", index=2)],
                 (Note("", "request-refused", "phase index 2 is not in [loop].phases"),), state_of(phase=DONE_P2), id="phase-out-of-range"),
    pytest.param(state_of(phase=DONE_P2), [Request("r1", "phase", index=-1)],
                 (Note("", "request-refused", "phase index -1 is not in [loop].phases"),), state_of(phase=DONE_P2), id="phase-negative"),
    pytest.param(state_of(), [Request("r1", "reboot", "second")], (Note("second", "request-refused", "unknown or incomplete request 'reboot' (r1)"),),
                 state_of(), id="unknown-action"),
    pytest.param(state_of(), [Request("r1", "phase")], (Note("", "request-refused", "unknown or incomplete request 'phase' (r1)"),), state_of(),
                 id="phase-without-an-index"),
    pytest.param(state_of(), [Request("r1", "pause", "second"), Request("r2", "resume", "second")],
                 (Note("second", "pause", "paused by hand"), Note("second", "resume", "resumed by hand")),
                 state_of(second=AgentState(paused=False)), id="applied-in-order"),
]


@pytest.mark.parametrize("state,reqs,actions,after", REQUESTS)
def test_requests(loop_config: Config, state: WatchdogState, reqs: list[Request], actions: tuple[Action, ...], after: WatchdogState) -> None:
    step = requests(tick(loop_config, state, requests=reqs))
    assert step.actions == actions
    assert step.state == replace(after, requests_done=tuple(r.id for r in reqs))


def test_each_request_is_applied_once(loop_config: Config) -> None:
    pause = Request("r1", "pause", "second")
    first = requests(tick(loop_config, WatchdogState(), requests=[pause]))
    assert first.state.requests_done == ("r1",) and first.state.agent("second").paused
    # the file is still there (the driver removes it only after the state is saved), and the
    # agent was resumed meanwhile by a later request: r1 must not pause it again
    again = requests(tick(loop_config, first.state, now=NOW + 5, requests=[pause, Request("r2", "resume", "second")]))
    assert again.actions == (Note("second", "resume", "resumed by hand"),)
    assert again.state.requests_done == ("r1", "r2") and not again.state.agent("second").paused
    assert requests(tick(loop_config, again.state, now=NOW + 10, requests=[pause])).actions == ()


def test_requests_done_keeps_the_latest_ids(loop_config: Config) -> None:
    state = replace(WatchdogState(), requests_done=tuple(f"old-{i}" for i in range(KEEP_DONE)))
    step = requests(tick(loop_config, state, requests=[Request("new", "pause", "second")]))
    assert len(step.state.requests_done) == KEEP_DONE
    assert step.state.requests_done[0] == "old-1" and step.state.requests_done[-1] == "new"


def test_a_phase_set_by_hand_masks_the_restarted_agents_for_the_rest_of_the_tick(loop_config: Config) -> None:
    # builder idle long enough to be nudged, and its old screen shows a dialog: neither may reach
    # the session that the request restarts
    state = state_of(phase=PhaseState(index=1, started=NOW - 900),
                     builder=AgentState(idle_since=NOW - 5000, facts=facts(dialog="trust", dialog_keys=["Enter"])))
    obs = observation(loop_config, screen={"builder": facts(dialog="trust", dialog_keys=["Enter"])},
                      requests=[Request("r1", "phase", index=0, why="redo p1")])
    step = decide(loop_config, state, obs, NOW)
    assert [k for k in kinds(step.actions) if k[1] in ("builder", "adversary") or k[0] == "PhaseChange"] == [
        ("PhaseChange", "", "p1"), ("Start", "builder", "advance"), ("Start", "adversary", "advance")]
    assert step.state.phase.index == 0 and step.state.requests_done == ("r1",)
    assert step.state.agent("builder").dialogs_answered == 0 and step.state.agent("builder").nudged_phase is None
