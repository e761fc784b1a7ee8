"""Heal (heavy ticks): (state, panes/screens) → restarts, under the restart policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Note, PhaseView, Request, Start
from agent_orchestrator.watchdog.policies.heal import heal
from agent_orchestrator.watchdog.state import AgentState, LimitWindow, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, idle, kinds, observation, pane, state_of, tick

GONE = {"builder": None, "sup": None, "job": None}
STARTED = AgentState(last_start=NOW, idle_since=NOW, restarts=(NOW,))  # what a heal start leaves


def healed(reason: str) -> tuple[tuple[Start, ...], WatchdogState]:
    """`sup` restarted for `reason` from a fresh state."""
    return (Start("sup", reason, kind="heal"),), state_of(sup=STARTED)


HEAL: list[Any] = [
    pytest.param(state_of(), {"panes": {"sup": None}}, *healed("session gone"), id="session-gone"),
    pytest.param(state_of(), {"panes": {"sup": pane("t-sup", dead=True, status=2)}}, *healed("exited with status 2"),
                 id="dead-with-status"),
    pytest.param(state_of(), {"panes": {"sup": pane("t-sup", dead=True)}}, *healed("exited"), id="dead-no-status"),
    pytest.param(state_of(), {"panes": {"sup": pane("t-sup", command="bash")}}, *healed("exited to a shell (bash)"),
                 id="exited-to-shell"),
    pytest.param(state_of(), {"screen": {"sup": facts(fatal=True)}}, *healed("unrecoverable error on screen"),
                 id="fatal-screen"),
    pytest.param(state_of(sup=AgentState(facts=facts(fatal=True), idle_since=NOW - 50, dialogs_answered=2)), {},
                 *healed("unrecoverable error on screen"), id="fatal-screen-forgets-the-old-session"),
    pytest.param(state_of(), {"panes": GONE, "heavy": False}, (), state_of(), id="light-tick"),
    pytest.param(state_of(builder=AgentState(paused=True), sup=AgentState(limit=LimitWindow("limit", None, NOW + 100, NOW))),
                 {"panes": GONE}, (), state_of(builder=AgentState(paused=True), sup=AgentState(limit=LimitWindow("limit", None, NOW + 100, NOW))),
                 id="paused-limited-and-a-task-are-left-alone"),
    pytest.param(state_of(phase=PhaseState(complete=True)), {"panes": {"builder": None}}, (), state_of(phase=PhaseState(complete=True)),
                 id="loop-agent-after-sequence-complete"),
    pytest.param(state_of(sup=AgentState(needs_human="crash loop")), {"panes": {"sup": None}}, (),
                 state_of(sup=AgentState(needs_human="crash loop")), id="needs-human"),
    pytest.param(state_of(sup=AgentState(failed_starts=2, last_start=NOW - 60)), {}, (),
                 state_of(sup=AgentState(failed_starts=0, last_start=NOW - 60)), id="a-start-that-stayed-up-is-a-good-start"),
    pytest.param(state_of(sup=AgentState(failed_starts=2, last_start=NOW - 5)), {}, (),
                 state_of(sup=AgentState(failed_starts=2, last_start=NOW - 5)), id="too-soon-to-call-it-good"),
    pytest.param(state_of(sup=AgentState(last_start=NOW - 3, restarts=(NOW - 3,))), {"panes": {"sup": pane("t-sup", dead=True, status=1)}},
                 (), state_of(sup=AgentState(last_start=NOW - 3, restarts=(NOW - 3,), failed_starts=1, next_restart_at=NOW + 5)),
                 id="a-failed-start-backs-off"),
    pytest.param(state_of(sup=AgentState(last_start=NOW - 60, restarts=(NOW - 60,))), {"panes": {"sup": pane("t-sup", dead=True, status=1)}},
                 (Start("sup", "exited with status 1", kind="heal"),),
                 state_of(sup=AgentState(last_start=NOW, idle_since=NOW, restarts=(NOW - 60, NOW))),
                 id="a-run-that-got-going-restarts-at-once"),
    pytest.param(state_of(sup=AgentState(last_start=NOW - 60, restarts=(NOW - 700, NOW - 60))), {"panes": {"sup": None}},
                 (Start("sup", "session gone", kind="heal"),),
                 state_of(sup=AgentState(last_start=NOW, idle_since=NOW, restarts=(NOW - 60, NOW))),
                 id="restarts-outside-the-window-are-forgotten"),
]


@pytest.mark.parametrize("state,observed,actions,after", HEAL)
def test_heal(config: Config, state: WatchdogState, observed: dict[str, Any], actions: tuple[Start, ...], after: WatchdogState) -> None:
    step = heal(tick(config, state, **observed))
    assert step.actions == actions
    assert step.state == after


def test_a_resumable_agent_is_healed_with_resume_unless_its_screen_was_fatal(config: Config) -> None:
    config.backends["demo"].supports_resume = True
    sup = config.agent("sup")
    assert sup is not None
    sup.resume = True
    assert heal(tick(config, panes={"sup": None})).actions == (Start("sup", "session gone", resume=True, kind="heal"),)
    assert heal(tick(config, screen={"sup": facts(fatal=True)})).actions == (
        Start("sup", "unrecoverable error on screen", resume=False, kind="heal"),)


def test_crash_loop_backs_off_then_needs_human(config: Config) -> None:
    state = WatchdogState()
    now = NOW
    seen = []
    for _ in range(40):
        step = heal(tick(config, state, now=now, panes={"sup": pane("t-sup", dead=True, status=1)}, run_seconds={"sup": 1.0}))
        seen += [(now - NOW, *k) for k in kinds(step.actions) if k[1] == "sup"]
        state = step.state
        now += 5
    # restart at once; each failed start (seen 5 s later, on the next heavy tick) backs off 5 s,
    # then 10 s; the 4th restart within the window is refused once: needs-human
    assert seen == [(0, "Start", "sup", "heal"), (10, "Start", "sup", "heal"), (25, "Start", "sup", "heal"),
                    (30, "Note", "sup", "needs-human")]
    st = state.agent("sup")
    assert st.needs_human == "3 restarts within 600s (last: exited with status 1)"
    assert st.restarts == (NOW, NOW + 10, NOW + 25) and st.failed_starts == 3


def test_the_needs_human_note_counts_the_restarts(config: Config) -> None:
    state = state_of(sup=AgentState(last_start=NOW - 60, restarts=(NOW - 300, NOW - 200, NOW - 60)))
    step = heal(tick(config, state, panes={"sup": None}))
    why = "3 restarts within 600s (last: session gone)"
    assert step.actions == (Note("sup", "needs-human", why, {"restarts": 3}),)
    assert step.state.agent("sup").needs_human == why
    assert step.state.agent("sup").last_start == NOW - 60  # not restarted


SERVICE = '[[service]]\nname = "web"\ncmd = ["x"]\n'


@pytest.mark.parametrize("state,observed,actions,restarts", [
    pytest.param(state_of(), {"web": pane("t-web", dead=True, status=1)}, (Start("web", "exited with status 1", kind="heal"),), (NOW,),
                 id="dead"),
    pytest.param(state_of(), {"web": None}, (Start("web", "session gone", kind="heal"),), (NOW,), id="gone"),
    pytest.param(state_of(), {"web": pane("t-web")}, (), (), id="running"),
    pytest.param(state_of(), {}, (), (), id="not-observed"),
    pytest.param(state_of(web=AgentState(paused=True)), {"web": None}, (), (), id="stopped-by-hand"),
])
def test_services_are_healed(make_config: Callable[..., Config], state: WatchdogState, observed: dict[str, Any],
                             actions: tuple[Start, ...], restarts: tuple[float, ...]) -> None:
    config = make_config(SERVICE)
    step = heal(tick(config, state, services=observed))
    assert step.actions == actions
    assert step.state.agent("web").restarts == restarts


def test_heal_follows_the_phase_of_the_tick_not_of_the_state(config: Config) -> None:
    # the tick's phase view says the sequence is complete: a loop agent is not healed
    step = heal(tick(config, panes={"builder": None}, phase=PhaseView(0, "p1", "status-p1.md", complete=True)))
    assert step.actions == ()


@pytest.mark.parametrize("panes", [pytest.param({"sup": None}, id="session-gone"), pytest.param({}, id="alive-and-idle")])
def test_a_needs_human_agent_is_left_alone_by_every_policy(config: Config, panes: dict[str, Any]) -> None:
    state = idle("sup", 5000).update_agent("sup", needs_human="crash loop", next_wake_at=NOW, restarts=(NOW - 30, NOW - 20, NOW - 10))
    step = decide(config, state, observation(config, panes=panes), NOW)
    assert [a for a in step.actions if getattr(a, "agent", "") == "sup"] == []
    assert replace(step.state.agent("sup"), truth=None) == state.agent("sup")
    # `agents restart NAME` starts the agent itself and asks the watchdog to clear the hold
    cleared = decide(config, step.state, observation(config, panes=panes, now=NOW + 60, requests=[Request("r1", "clear", "sup")]), NOW + 60)
    assert kinds(cleared.actions)[0] == ("Note", "sup", "cleared")
    st = cleared.state.agent("sup")
    assert (st.needs_human, st.restarts, st.last_start) == ("", (), NOW + 60)
