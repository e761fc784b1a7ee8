"""Start intents: recorded before a start goes out; a restarted watchdog confirms or re-issues them."""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import AgentObservation, Note, Start
from agent_orchestrator.watchdog.policies.intents import reconcile, record, settle_start
from agent_orchestrator.watchdog.state import Intent, WatchdogState
from tests.support.policies import NOW, kinds, pane, tick

OPEN = Intent("builder-advance-1", "builder", "advance", "phase p2", NOW - 3, prev_pid=4242)


def test_record_gives_every_start_an_intent_with_the_pid_it_replaces() -> None:
    observed = {"builder": AgentObservation("builder", pane("t-builder"), launch_pid=4242)}
    state, actions = record(WatchdogState(), [Start("builder", "phase p2", kind="advance"), Note("", "x", "y")], observed, NOW)
    (intent,) = state.intents
    assert (intent.agent, intent.kind, intent.prev_pid, intent.created) == ("builder", "advance", 4242, NOW)
    assert actions[0] == Start("builder", "phase p2", kind="advance", intent=intent.id) and actions[1] == Note("", "x", "y")
    again, _ = record(state, [Start("builder", "phase p2 (again)", kind="advance", intent=intent.id)], observed, NOW + 1)
    assert again.intents == state.intents  # a re-issued start keeps its intent
    assert settle_start(state, intent.id).intents == () and settle_start(state, "").intents == state.intents


def test_a_start_that_went_out_before_the_crash_is_confirmed(config: Config) -> None:
    step = reconcile(tick(config, WatchdogState(intents=(OPEN,)), launch_pid={"builder": 5151}))
    assert kinds(step.actions) == [("Note", "builder", "start-confirmed")] and step.state.intents == ()


def test_a_start_that_never_went_out_is_issued_again(config: Config) -> None:
    step = reconcile(tick(config, WatchdogState(intents=(OPEN,)), launch_pid={"builder": 4242}))
    assert step.actions == (Start("builder", "phase p2 (again: the watchdog restarted before it was done)", kind="advance", intent=OPEN.id),)
    assert step.state.intents == (OPEN,)


def test_intents_of_agents_gone_from_the_config_or_of_on_complete_are_dropped(config: Config) -> None:
    gone = replace(OPEN, id="x", agent="nobody")
    on_complete = replace(OPEN, id="y", agent="job", kind="on-complete")
    step = reconcile(tick(config, WatchdogState(intents=(gone, on_complete))))
    assert step.actions == () and step.state.intents == ()
