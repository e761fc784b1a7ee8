"""Stall and DONE-nudge: (state, screen, now) → nudge, reboot or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import Action, PhaseView, Send, Start
from agent_orchestrator.watchdog.policies.stall import nudge_text, stall
from agent_orchestrator.watchdog.state import LimitWindow, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, idle, kinds, pane, state_of, tick


def rebooted(state: WatchdogState, name: str) -> WatchdogState:
    """`state` after a stall reboot of `name` at NOW: a fresh idle clock, the old screen forgotten,
    the start counted."""
    return state.update_agent(name, last_start=NOW, idle_since=NOW, facts=None, last_activity=None, restarts=(NOW,))


def reboot(name: str, reason: str) -> tuple[Action, ...]:
    return (Start(name, f"stalled: {reason}", kind="reboot"),)


def with_agent(state: WatchdogState, name: str, **changes: Any) -> WatchdogState:
    return state.update_agent(name, **changes)


DONE = PhaseView(0, "p1", "status-p1.md", "## DONE", done=True)
FRESH = state_of()
LIMIT = LimitWindow("limit", None, NOW + 100, NOW - 10)
COMPLETE = WatchdogState(agents=idle("builder", 5000).agents, phase=PhaseState(complete=True))

# (state, tick keywords, done_nudge, actions, state after)
STALL: list[Any] = [
    pytest.param(idle("builder", 299), {}, True, (), idle("builder", 299), id="not-yet-stalled"),
    pytest.param(idle("sup", 1000), {}, True, reboot("sup", "idle for 1000s"), rebooted(idle("sup", 1000), "sup"),
                 id="persistent-rebooted"),
    pytest.param(idle("sup", 1000, active=True), {}, True, (), idle("sup", 1000, active=True), id="busy-screen"),
    pytest.param(idle("sup", 1000), {"status": {"sup": "busy"}}, True, (), idle("sup", 1000), id="busy-session-status"),
    pytest.param(idle("sup", 1200, active=True), {}, True, reboot("sup", "busy screen unchanged for 1200s (hung turn)"),
                 rebooted(idle("sup", 1200, active=True), "sup"), id="hung-turn"),
    pytest.param(idle("sup", 5000, waiting_until=NOW + 3600), {}, True, (), idle("sup", 5000, waiting_until=NOW + 3600),
                 id="waiting-until-ahead"),
    pytest.param(idle("sup", 5000, waiting_until=NOW - 59), {}, True, (), idle("sup", 5000, waiting_until=NOW - 59),
                 id="waiting-until-within-grace"),
    pytest.param(idle("sup", 5000, waiting_until=NOW - 61), {}, True, reboot("sup", "idle for 5000s (its WAITING-UNTIL time has passed)"),
                 rebooted(idle("sup", 5000, waiting_until=NOW - 61), "sup"), id="waiting-until-missed"),
    # a watchdog with no state: the pane's own activity record says it has been idle 400 s
    pytest.param(FRESH, {"panes": {"sup": pane("t-sup", activity=NOW - 400)}, "screen": {"sup": facts()}}, True,
                 reboot("sup", "idle for 400s"), rebooted(FRESH, "sup"), id="idle-clock-from-window-activity"),
    pytest.param(idle("builder", 400), {"phase": DONE}, True, reboot("builder", "idle for 400s"), rebooted(idle("builder", 400), "builder"),
                 id="no-nudge-when-the-phase-is-done"),
    pytest.param(idle("builder", 400), {}, False, reboot("builder", "idle for 400s"), rebooted(idle("builder", 400), "builder"),
                 id="no-nudge-when-done-nudge-is-off"),
    pytest.param(idle("builder", 1200, active=True), {}, True, reboot("builder", "busy screen unchanged for 1200s (hung turn)"),
                 rebooted(idle("builder", 1200, active=True), "builder"), id="a-hung-loop-agent-is-rebooted-without-a-nudge"),
    pytest.param(with_agent(idle("builder", 400), "builder", nudged_phase="p1"), {}, True, reboot("builder", "idle for 400s"),
                 rebooted(with_agent(idle("builder", 400), "builder", nudged_phase="p1"), "builder"), id="nudged-already-this-phase"),
    pytest.param(with_agent(idle("builder", 400), "builder", nudged_phase="p0"), {}, True,
                 (Send("builder", "<nudge>", "nudge", "stalled: idle for 400s"),),
                 with_agent(idle("builder", 400), "builder", nudged_phase="p1", idle_since=NOW), id="nudged-in-another-phase"),
    pytest.param(idle("sup", 5000, dialog="trust", dialog_keys=["Enter"]), {}, True, (),
                 idle("sup", 5000, dialog="trust", dialog_keys=["Enter"]), id="a-dialog-is-not-a-stall"),
    pytest.param(with_agent(idle("sup", 5000), "sup", paused=True), {}, True, (), with_agent(idle("sup", 5000), "sup", paused=True),
                 id="paused"),
    pytest.param(with_agent(idle("sup", 5000), "sup", limit=LIMIT), {}, True, (), with_agent(idle("sup", 5000), "sup", limit=LIMIT),
                 id="limited"),
    pytest.param(with_agent(idle("sup", 5000), "sup", needs_human="x"), {}, True, (), with_agent(idle("sup", 5000), "sup", needs_human="x"),
                 id="needs-human"),
    pytest.param(idle("sup", 5000), {"panes": {"sup": None}}, True, (), idle("sup", 5000), id="not-running"),
    pytest.param(COMPLETE, {}, True, (), COMPLETE, id="loop-agent-after-sequence-complete"),
]


@pytest.mark.parametrize("state,observed,done_nudge,actions,after", STALL)
def test_stall(config: Config, state: WatchdogState, observed: dict[str, Any], done_nudge: bool,
               actions: tuple[Action, ...], after: WatchdogState) -> None:
    assert config.loop is not None
    config.loop.done_nudge = done_nudge
    t = tick(config, state, **observed)
    step = stall(t)
    # the nudge's text is nudge_text's (checked below); the row names the rest of the action
    expected = tuple(Send(a.agent, nudge_text(t), a.kind, a.reason) if isinstance(a, Send) else a for a in actions)
    assert step.actions == expected
    assert step.state == after


def test_a_stalled_loop_agent_is_nudged_once_per_phase_then_rebooted(config: Config) -> None:
    t = tick(config, idle("builder", 300))
    step = stall(t)
    assert kinds(step.actions) == [("Send", "builder", "nudge")]
    text = step.actions[0].text  # type: ignore[union-attr]
    assert "phase p1" in text and "status-p1.md" in text and "`## DONE`" in text and "WAITING-UNTIL" in text
    st = step.state.agent("builder")
    assert (st.nudged_phase, st.idle_since, st.restarts) == ("p1", NOW, ())
    # a fresh idle window follows: no reboot until it too has passed
    builder_only = {"sup": None, "job": None}
    state = step.state
    assert stall(tick(config, state, now=NOW + 299, panes=builder_only)).actions == ()
    later = stall(tick(config, state, now=NOW + 300, panes=builder_only))
    assert later.actions == (Start("builder", "stalled: idle for 300s", kind="reboot"),)
    st = later.state.agent("builder")
    assert (st.nudged_phase, st.last_start, st.restarts) == ("p1", NOW + 300, (NOW + 300,))  # once per phase: a reboot does not re-arm it


def test_a_stall_reboot_obeys_the_restart_policy(config: Config) -> None:
    # three restarts inside the window already: the fourth is refused, once
    state = idle("sup", 1000).update_agent("sup", restarts=(NOW - 30, NOW - 20, NOW - 10), last_start=NOW - 10)
    step = stall(tick(config, state))
    assert kinds(step.actions) == [("Note", "sup", "needs-human")]
    assert step.state.agent("sup").needs_human == "3 restarts within 600s (last: stalled: idle for 1000s)"
    assert stall(tick(config, step.state)).actions == ()
