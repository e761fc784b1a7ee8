"""Wakes: (state, screen, now) → re-prompts, task re-runs, skips and deferrals."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.config.schema import WakeConfig
from agent_orchestrator.watchdog.model import Action, Note, Send, Start
from agent_orchestrator.watchdog.policies.wakes import wakes
from agent_orchestrator.watchdog.state import AgentState, LimitWindow, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, state_of, tick

LATER = NOW + 1000  # the other agents' wakes are not due
BASE = state_of(sup=AgentState(next_wake_at=LATER), job=AgentState(next_wake_at=LATER))
LIMIT = LimitWindow("b", None, NOW + 50, NOW)
RERUN = Start("job", "wake: task re-run", prompt="run the report", kind="wake")
REPROMPT = Send("sup", "check the queue", "wake", "wake every 600s")


def rerun_state(now: float) -> AgentState:
    """`job` after a task re-run at `now`: the next wake one interval out, the start counted."""
    return AgentState(next_wake_at=now + 100, last_start=now, idle_since=now, restarts=(now,))


# (agent, its state, tick keywords, now, actions, its state after); the others are not due
WAKES: list[Any] = [
    pytest.param("sup", AgentState(next_wake_at=NOW), {}, NOW, (REPROMPT,), AgentState(next_wake_at=NOW + 600), id="persistent-reprompted"),
    pytest.param("sup", AgentState(next_wake_at=NOW + 1), {}, NOW, (), AgentState(next_wake_at=NOW + 1), id="not-due"),
    pytest.param("sup", AgentState(next_wake_at=NOW), {"panes": {"sup": None}}, NOW,
                 (Note("sup", "wake-skipped", "the agent is not running"),), AgentState(next_wake_at=NOW + 600), id="persistent-not-running"),
    pytest.param("sup", AgentState(next_wake_at=NOW, paused=True), {}, NOW, (), AgentState(next_wake_at=NOW, paused=True), id="paused"),
    pytest.param("sup", AgentState(next_wake_at=NOW, needs_human="x"), {}, NOW, (), AgentState(next_wake_at=NOW, needs_human="x"),
                 id="needs-human"),
    pytest.param("job", AgentState(next_wake_at=NOW), {}, NOW, (RERUN,), rerun_state(NOW), id="task-rerun"),
    pytest.param("job", AgentState(next_wake_at=NOW), {"panes": {"job": None}}, NOW, (RERUN,), rerun_state(NOW), id="task-rerun-when-gone"),
    pytest.param("job", AgentState(next_wake_at=NOW), {"screen": {"job": facts(active=True)}}, NOW,
                 (Note("job", "wake-skipped", "the previous run is still active"),), AgentState(next_wake_at=NOW + 100),
                 id="task-still-active"),
    pytest.param("job", AgentState(next_wake_at=NOW), {"status": {"job": "busy"}}, NOW,
                 (Note("job", "wake-skipped", "the previous run is still active"),), AgentState(next_wake_at=NOW + 100),
                 id="task-busy-by-session-status"),
    pytest.param("job", AgentState(next_wake_at=NOW, limit=LIMIT), {}, NOW, (), AgentState(next_wake_at=NOW, limit=LIMIT),
                 id="deferred-under-a-limit"),
    pytest.param("job", AgentState(next_wake_at=NOW), {}, NOW + 60, (RERUN,), rerun_state(NOW + 60), id="taken-once-the-limit-closed"),
    pytest.param("job", AgentState(next_wake_at=NOW, restarts=(NOW - 50,)), {}, NOW, (RERUN,),
                 AgentState(next_wake_at=NOW + 100, last_start=NOW, idle_since=NOW, restarts=(NOW - 50, NOW)),
                 id="a-task-rerun-counts-as-a-restart"),
]


@pytest.mark.parametrize("name,st,observed,now,actions,after", WAKES)
def test_wakes(config: Config, name: str, st: AgentState, observed: dict[str, Any], now: float,
               actions: tuple[Action, ...], after: AgentState) -> None:
    step = wakes(tick(config, BASE.with_agent(name, st), now=now, **observed))
    assert step.actions == actions
    assert step.state == BASE.with_agent(name, after)


def test_the_first_wake_comes_one_interval_after_first_sight(config: Config) -> None:
    step = wakes(tick(config, WatchdogState()))
    assert step.actions == ()
    assert step.state == state_of(sup=AgentState(next_wake_at=NOW + 600), job=AgentState(next_wake_at=NOW + 100))  # builder has no wake
    state = step.state
    timeline = [(NOW + 99, ()), (NOW + 100, (Start("job", "wake: task re-run", prompt="run the report", kind="wake"),)),
                (NOW + 200, (Start("job", "wake: task re-run", prompt="run the report", kind="wake"),)),
                (NOW + 600, (REPROMPT, Start("job", "wake: task re-run", prompt="run the report", kind="wake")))]
    for now, expected in timeline:
        step = wakes(tick(config, state, now=now))
        assert step.actions == expected, now - NOW
        state = step.state
    assert (state.agent("sup").next_wake_at, state.agent("job").next_wake_at) == (NOW + 1200, NOW + 700)


def test_loop_wakes_go_quiet_after_sequence_complete_but_persistent_ones_keep_going(config: Config) -> None:
    builder = config.agent("builder")
    assert builder is not None
    builder.wake = WakeConfig(interval=10, prompt="loop wake")
    state = state_of(phase=PhaseState(complete=True), builder=AgentState(next_wake_at=NOW), sup=AgentState(next_wake_at=NOW),
                     job=AgentState(next_wake_at=LATER))
    step = wakes(tick(config, state))
    assert step.actions == (REPROMPT,)
    assert step.state.agent("builder").next_wake_at == NOW + 10  # rescheduled, not stacked up
    # before completion the same loop wake goes out
    going = wakes(tick(config, state_of(builder=AgentState(next_wake_at=NOW), sup=AgentState(next_wake_at=LATER),
                                        job=AgentState(next_wake_at=LATER))))
    assert going.actions == (Send("builder", "loop wake", "wake", "wake every 10s"),)


@pytest.mark.parametrize("wake_text,wake_error,actions", [
    pytest.param("Phase p1: plan", "", (Start("job", "wake: task re-run", prompt="Phase p1: plan", kind="wake"),), id="rendered-kickoff"),
    pytest.param(None, "kickoff.md: unknown slot {typo}",
                 (Note("job", "wake-skipped", "no wake text: kickoff.md: unknown slot {typo}"),), id="render-failed"),
    pytest.param(None, "", (Note("job", "wake-skipped", "no wake text: the agent has no prompt"),), id="no-prompt"),
])
def test_a_wake_without_its_own_prompt_uses_the_rendered_kickoff(config: Config, wake_text: str | None, wake_error: str,
                                                                 actions: tuple[Action, ...]) -> None:
    job = config.agent("job")
    assert job is not None
    job.wake = WakeConfig(interval=100, prompt="")
    step = wakes(tick(config, BASE.update_agent("job", next_wake_at=NOW),
                      wake_text={"job": wake_text} if wake_text else None, wake_error={"job": wake_error}))
    assert step.actions == actions
    assert step.state.agent("job").next_wake_at == NOW + 100
