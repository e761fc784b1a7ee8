"""The screen witness: (state, panes, fresh captures) → remembered facts and idle clocks.

The verdicts the witness also records (`truth`) are tested in test_truth.py; here they are
set aside, so each row states only what the screen does to the clocks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Observation
from agent_orchestrator.watchdog.policies.witness import witness
from agent_orchestrator.watchdog.state import AgentState, WatchdogState
from tests.support.policies import NOW, facts, kinds, observation, pane, state_of

OLD = facts(hash="h", captured_at=NOW - 60)
SAME = facts(hash="h", captured_at=NOW)  # a redraw of the same content (a spinner's timer ticking)
NEW = facts(hash="h2", captured_at=NOW)
BASE = state_of(builder=AgentState(idle_since=NOW - 2000), job=AgentState(idle_since=NOW - 2000))  # the others: already known


# (sup's state, sup's pane (activity), sup's capture this tick, sup's state after)
WITNESS: list[Any] = [
    pytest.param(None, NOW - 400, None, AgentState(idle_since=NOW - 400), id="first-sight-idle-clock-from-window-activity"),
    pytest.param(None, NOW - 400, NEW, AgentState(idle_since=NOW - 400, facts=NEW, last_activity=NOW - 400), id="first-capture"),
    pytest.param(AgentState(idle_since=NOW - 1000, facts=OLD), NOW - 5, SAME,
                 AgentState(idle_since=NOW - 1000, facts=SAME, last_activity=NOW - 5), id="same-content-keeps-the-clock"),
    pytest.param(AgentState(idle_since=NOW - 1000, facts=OLD), NOW - 5, NEW,
                 AgentState(idle_since=NOW - 5, facts=NEW, last_activity=NOW - 5), id="changed-content-moves-the-clock"),
    # a restart reset the clock to NOW - 10; tmux's activity from before it cannot move it back
    pytest.param(AgentState(idle_since=NOW - 10, facts=OLD), NOW - 100, NEW,
                 AgentState(idle_since=NOW - 10, facts=NEW, last_activity=NOW - 100), id="the-clock-never-goes-back"),
    pytest.param(AgentState(idle_since=NOW - 10), NOW - 100, NEW, AgentState(idle_since=NOW - 10, facts=NEW, last_activity=NOW - 100),
                 id="first-capture-after-a-restart"),
    pytest.param(AgentState(idle_since=NOW - 1000, facts=OLD), NOW - 5, None, AgentState(idle_since=NOW - 1000, facts=OLD),
                 id="not-captured-nothing-changes"),
    pytest.param(AgentState(idle_since=NOW - 1000, facts=OLD), None, NEW, AgentState(idle_since=NOW - 1000, facts=OLD),
                 id="session-gone-nothing-changes"),
    pytest.param(None, None, None, None, id="session-gone-no-state-made-up"),
]


def without_truth(state: WatchdogState) -> WatchdogState:
    """The state with every agent's verdict dropped."""
    return replace(state, agents={name: replace(st, truth=None) for name, st in state.agents.items()})


@pytest.mark.parametrize("st,activity,screen,after", WITNESS)
def test_witness(config: Config, st: AgentState | None, activity: float | None, screen: ScreenFacts | None,
                 after: AgentState | None) -> None:
    state = BASE if st is None else BASE.with_agent("sup", st)
    seen = observation(config, panes={"sup": None if activity is None else pane("t-sup", activity=activity),
                                      "builder": pane("t-builder"), "job": pane("t-job")},
                       screen={"sup": screen} if screen is not None else None)
    folded = without_truth(witness(config, state, seen).state)
    assert folded == (BASE if after is None else BASE.with_agent("sup", after))


def test_witness_ignores_agents_it_did_not_observe(config: Config) -> None:
    state = state_of(sup=AgentState(idle_since=NOW - 1000, facts=OLD))
    seen = observation(config, screen={"sup": NEW})
    folded = without_truth(witness(config, state, Observation(NOW, {"builder": seen.agents["builder"]})).state)
    assert folded == state_of(sup=AgentState(idle_since=NOW - 1000, facts=OLD), builder=AgentState(idle_since=NOW - 5))


def test_a_spinner_redraw_does_not_hide_a_stall_in_the_whole_tick(config: Config) -> None:
    # sup's screen has shown the same content for 1000 s; tmux says the window was active 5 s
    # ago (the redraw): the idle clock is the content's, so the stall reboot still comes
    state = WatchdogState(last_heavy=NOW, agents={"sup": AgentState(idle_since=NOW - 1000, facts=OLD, next_wake_at=NOW + 900),
                                                  "job": AgentState(next_wake_at=NOW + 900)})
    step = decide(config, state, observation(config, screen={"sup": SAME}), NOW)
    assert kinds(step.actions) == [("Start", "sup", "reboot")]
    assert step.actions[0].reason == "stalled: idle for 1000s"
    # a changed screen is activity: no reboot
    changed = decide(config, state, observation(config, screen={"sup": NEW}), NOW)
    assert changed.actions == ()
    assert changed.state.agent("sup").idle_since == NOW - 5 and changed.state.agent("sup").facts == NEW
