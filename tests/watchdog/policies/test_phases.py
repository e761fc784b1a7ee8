"""The phase machine: (state, pushed status, screens, now) → advance, completion, on_complete, resume."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.config.schema import PhaseConfig
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Action, CommitView, GateChange, GitView, Note, Outcome, PhaseChange, Send, Start
from agent_orchestrator.watchdog.policies.phases import ADVANCE_GRACE, phases, set_phase
from agent_orchestrator.watchdog.settle import settle
from agent_orchestrator.watchdog.state import AgentState, HandoffState, PhaseState, WatchdogState
from tests.support.policies import NOW, facts, kinds, observation, state_of, tick, unintended

DONE = GitView(ok=True, head="b", status_done=True)
NOT_DONE = GitView(ok=True, head="a", status_done=False)
GATE = HandoffState(last_seen="h0", gate="G1", gate_started=NOW - 100)
ADVANCE = (PhaseChange("p1", 1, False, "p1 done: advancing to p2"),
           Start("builder", "phase p2", kind="advance"), Start("adversary", "phase p2", kind="advance"))
FRESH_START = AgentState(last_start=NOW, idle_since=NOW)  # a loop agent restarted into the next phase (not counted)


def advanced(state: WatchdogState, index: int) -> WatchdogState:
    """`state` after an advance to phase `index` at NOW: the loop agents start fresh, the gate ends."""
    state = replace(state, phase=replace(state.phase, index=index, started=NOW, done_seen_at=None),
                    handoff=replace(state.handoff, gate=None, gate_started=None))
    for name in ("builder", "adversary"):
        state = state.update_agent(name, last_start=NOW, idle_since=NOW, facts=None, last_activity=None, dialogs_answered=0)
    return state


STARTED = PhaseState(started=NOW - 500)

# (state, git, tick keywords, actions, state after)
MACHINE: list[Any] = [
    pytest.param(state_of(), NOT_DONE, {}, (), state_of(phase=PhaseState(started=NOW)), id="not-done-the-phase-clock-starts"),
    pytest.param(state_of(phase=STARTED), NOT_DONE, {}, (), state_of(phase=STARTED), id="not-done"),
    pytest.param(state_of(phase=STARTED), GitView(ok=False, error="timeout"), {}, (), state_of(phase=STARTED), id="fetch-failed"),
    pytest.param(state_of(phase=STARTED), None, {}, (), state_of(phase=STARTED), id="no-fetch-this-tick"),
    pytest.param(state_of(phase=STARTED, handoff=GATE), DONE, {}, ADVANCE,
                 advanced(state_of(phase=STARTED, handoff=GATE), 1), id="done-advances-and-restarts-loop-agents"),
    pytest.param(state_of(phase=replace(STARTED, index=1)), DONE, {}, (PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE"),),
                 state_of(phase=replace(STARTED, index=1, complete=True, completed_at=NOW, on_complete="pending", on_complete_phases=2)),
                 id="last-phase-completes-on_complete-pending"),
    pytest.param(state_of(phase=replace(STARTED, index=1, on_complete="started", on_complete_phases=2)), DONE, {},
                 (PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE"),),
                 state_of(phase=replace(STARTED, index=1, complete=True, completed_at=NOW, on_complete="started", on_complete_phases=2)),
                 id="completed-again-after-a-phase-set-back-on_complete-ran-already"),
    pytest.param(state_of(phase=replace(STARTED, index=1, complete=True, completed_at=NOW - 9, on_complete="started", on_complete_phases=2)),
                 DONE, {}, (), state_of(phase=replace(STARTED, index=1, complete=True, completed_at=NOW - 9, on_complete="started",
                                                      on_complete_phases=2)), id="complete-stays-complete"),
    # the agent that pushed the marker is still finishing its turn: wait for it, a bounded time
    pytest.param(state_of(phase=STARTED), DONE, {"screen": {"builder": facts(active=True)}},
                 (Note("", "phase-done-waiting", "p1 is done; waiting for builder to finish the turn"),),
                 state_of(phase=replace(STARTED, done_seen_at=NOW)), id="busy-loop-agent-waits"),
    pytest.param(state_of(phase=STARTED), DONE, {"screen": {"builder": facts(active=True), "adversary": facts(active=True)}},
                 (Note("", "phase-done-waiting", "p1 is done; waiting for adversary, builder to finish the turn"),),
                 state_of(phase=replace(STARTED, done_seen_at=NOW)), id="both-busy"),
    pytest.param(state_of(phase=STARTED), DONE, {"status": {"adversary": "busy"}},
                 (Note("", "phase-done-waiting", "p1 is done; waiting for adversary to finish the turn"),),
                 state_of(phase=replace(STARTED, done_seen_at=NOW)), id="busy-by-session-status"),
    pytest.param(state_of(phase=STARTED), DONE, {"screen": {"second": facts(active=True)}}, ADVANCE,
                 advanced(state_of(phase=STARTED), 1), id="a-busy-persistent-agent-does-not-hold-the-advance"),
    pytest.param(state_of(phase=replace(STARTED, done_seen_at=NOW - 30)), DONE, {"screen": {"builder": facts(active=True)}}, (),
                 state_of(phase=replace(STARTED, done_seen_at=NOW - 30)), id="still-busy-within-the-grace"),
    pytest.param(state_of(phase=replace(STARTED, done_seen_at=NOW - 31)), DONE, {}, ADVANCE,
                 advanced(state_of(phase=STARTED), 1), id="turn-ended-advance"),
    pytest.param(state_of(phase=replace(STARTED, done_seen_at=NOW - ADVANCE_GRACE - 1)), DONE, {"screen": {"builder": facts(active=True)}},
                 ADVANCE, advanced(state_of(phase=STARTED), 1), id="grace-over-advance-anyway"),
    pytest.param(state_of(phase=replace(STARTED, done_seen_at=NOW - ADVANCE_GRACE)), DONE, {"screen": {"builder": facts(active=True)}},
                 ADVANCE, advanced(state_of(phase=STARTED), 1), id="grace-ends-at-exactly-sixty-seconds"),
    pytest.param(state_of(phase=replace(STARTED, done_seen_at=NOW - 30)), NOT_DONE, {"screen": {"builder": facts(active=True)}}, (),
                 state_of(phase=STARTED), id="marker-withdrawn-while-waiting"),
]


@pytest.mark.parametrize("state,git,observed,actions,after", MACHINE)
def test_phase_machine(loop_config: Config, state: WatchdogState, git: GitView | None, observed: dict[str, Any],
                       actions: tuple[Action, ...], after: WatchdogState) -> None:
    step = phases(tick(loop_config, state, git=git, heavy=False, **observed))
    assert step.actions == actions
    assert step.state == after


def test_advance_with_resume_keeps_the_loop_agents_conversations(loop_config: Config) -> None:
    assert loop_config.loop is not None
    loop_config.loop.resume = True
    step = phases(tick(loop_config, state_of(phase=STARTED), git=DONE))
    assert step.actions[1:] == (Start("builder", "phase p2", resume=True, kind="advance"),
                                Start("adversary", "phase p2", resume=True, kind="advance"))


def test_a_disabled_loop_agent_is_not_restarted_on_advance(loop_config: Config) -> None:
    adversary = loop_config.agent("adversary")
    assert adversary is not None
    adversary.enabled = False
    step = phases(tick(loop_config, state_of(phase=STARTED), git=DONE))
    assert step.actions == ADVANCE[:2]


def test_an_advance_clears_the_done_nudge_flags(loop_config: Config) -> None:
    state = state_of(phase=STARTED, builder=AgentState(nudged_phase="p1"), adversary=AgentState(nudged_phase="p1"))
    step = phases(tick(loop_config, state, git=DONE))
    assert step.actions == ADVANCE
    assert step.state.agent("builder").nudged_phase is None
    assert step.state.agent("adversary").nudged_phase is None


def test_the_last_phase_completes_once_then_on_complete_starts_exactly_once(loop_config: Config) -> None:
    state = state_of(phase=PhaseState(index=1, started=NOW - 500))
    done = phases(tick(loop_config, state, git=DONE))
    assert done.actions == (PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE"),)
    assert (done.state.phase.complete, done.state.phase.on_complete) == (True, "pending")
    # next tick (the pending decision is on disk by now): the start goes out, "starting"
    started = phases(tick(loop_config, done.state, now=NOW + 5, launch_pid={"reporter": 4242}))
    start = Start("reporter", "sequence complete: on_complete", kind="on-complete")
    assert started.actions == (start,)
    assert (started.state.phase.on_complete, started.state.phase.on_complete_prev_pid) == ("starting", 4242)
    # the executor reports the start went out: settle records "started"
    settled = settle(loop_config, started.state, [Outcome(start, ok=True)], NOW + 5)
    assert settled.phase.on_complete == "started"
    later = phases(tick(loop_config, settled, now=NOW + 10, git=DONE, launch_pid={"reporter": 5151}))
    assert later.actions == () and later.state == settled


COMPLETED = PhaseState(index=1, started=NOW - 500, complete=True, completed_at=NOW - 20, on_complete_phases=2)
ON_COMPLETE = Start("reporter", "sequence complete: on_complete", kind="on-complete")

# (the phase's on_complete state, the task's launcher pid now, the task's state, actions, on_complete after)
ON_COMPLETE_ROWS: list[Any] = [
    pytest.param(replace(COMPLETED, on_complete="pending"), 4242, AgentState(), (ON_COMPLETE,), ("starting", 4242), id="pending-starts"),
    # the watchdog died before the start: the launcher pid is still the old one → start it now
    pytest.param(replace(COMPLETED, on_complete="starting", on_complete_prev_pid=4242), 4242, AgentState(), (ON_COMPLETE,),
                 ("starting", 4242), id="crash-before-the-start"),
    pytest.param(replace(COMPLETED, on_complete="starting", on_complete_prev_pid=None), None, AgentState(), (ON_COMPLETE,),
                 ("starting", None), id="crash-before-the-start-no-launcher-yet"),
    # it died after the start: a new launcher pid → only note it
    pytest.param(replace(COMPLETED, on_complete="starting", on_complete_prev_pid=4242), 5151, AgentState(),
                 (Note("reporter", "on-complete-confirmed", "already started before the watchdog restarted"),), ("started", 4242),
                 id="crash-after-the-start"),
    pytest.param(replace(COMPLETED, on_complete="starting", on_complete_prev_pid=4242), 4242, AgentState(next_restart_at=NOW + 5), (),
                 ("starting", 4242), id="a-failed-start-backs-off"),
    pytest.param(replace(COMPLETED, on_complete="started"), 5151, AgentState(), (), ("started", None), id="started"),
    pytest.param(replace(COMPLETED, on_complete=""), 5151, AgentState(), (), ("", None), id="not-due"),
]


@pytest.mark.parametrize("ph,launch_pid,reporter,actions,after", ON_COMPLETE_ROWS)
def test_on_complete_starts_exactly_once_across_crashes(loop_config: Config, ph: PhaseState, launch_pid: int | None,
                                                         reporter: AgentState, actions: tuple[Action, ...],
                                                         after: tuple[str, int | None]) -> None:
    state = state_of(phase=ph, reporter=reporter)
    step = phases(tick(loop_config, state, launch_pid={"reporter": launch_pid} if launch_pid else None))
    assert step.actions == actions
    assert (step.state.phase.on_complete, step.state.phase.on_complete_prev_pid) == after
    if actions and isinstance(actions[0], Start):
        assert step.state.agent("reporter").last_start == NOW and step.state.agent("reporter").restarts == ()
    else:
        assert step.state.agent("reporter") == reporter


def test_on_complete_is_not_run_without_one_configured(loop_config: Config) -> None:
    assert loop_config.loop is not None
    loop_config.loop.on_complete = None
    step = phases(tick(loop_config, state_of(phase=PhaseState(index=1, started=NOW - 5)), git=DONE))
    assert step.actions == (PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE"),)
    assert (step.state.phase.complete, step.state.phase.on_complete, step.state.phase.on_complete_phases) == (True, "", 0)


def test_appended_phases_resume_a_completed_sequence(loop_config: Config) -> None:
    assert loop_config.loop is not None
    state = state_of(phase=replace(COMPLETED, on_complete="started"))
    loop_config.loop.phases.append(PhaseConfig(id="p3", plan=loop_config.root / "plan.md", status="s3.md"))
    step = phases(tick(loop_config, state))
    assert step.actions == (PhaseChange(None, 2, False, "phases were appended: resuming at p3", resumed="p3"),
                            Start("builder", "phase p3 (appended)", kind="advance"), Start("adversary", "phase p3 (appended)", kind="advance"))
    ph = step.state.phase
    assert (ph.index, ph.complete, ph.completed_at, ph.started, ph.on_complete) == (2, False, None, NOW, "started")
    assert step.state.agent("builder").last_start == NOW
    # completing the extended sequence runs on_complete again (3 phases > the 2 it ran for)
    done = phases(tick(loop_config, step.state, now=NOW + 60, git=DONE))
    assert done.actions == (PhaseChange("p3", 2, True, "p3 done: SEQUENCE-COMPLETE"),)
    assert (done.state.phase.complete, done.state.phase.on_complete, done.state.phase.on_complete_phases) == (True, "pending", 3)


SET_FROM = state_of(phase=PhaseState(index=1, started=NOW - 900, complete=True, completed_at=NOW - 60, on_complete="started",
                                     on_complete_phases=2, done_seen_at=NOW - 70),
                    handoff=HandoffState(last_seen="h", gate="G4", gate_started=NOW - 80),
                    builder=AgentState(nudged_phase="p2", idle_since=NOW - 5), second=AgentState(nudged_phase="p2"))


@pytest.mark.parametrize("reset,phase,handoff", [
    pytest.param(False, PhaseState(index=0, started=NOW, on_complete="started", on_complete_phases=2),
                 HandoffState(last_seen="h", gate="G4", gate_started=NOW - 80), id="set"),
    pytest.param(True, PhaseState(index=0, started=NOW), HandoffState(last_seen="h"), id="reset"),
])
def test_set_phase_by_hand(reset: bool, phase: PhaseState, handoff: HandoffState) -> None:
    after = set_phase(SET_FROM, 0, NOW, reset=reset)
    assert after == replace(SET_FROM, phase=phase, handoff=handoff,
                            agents={"builder": AgentState(idle_since=NOW - 5), "second": AgentState()})
    assert SET_FROM.phase.index == 1 and SET_FROM.agent("builder").nudged_phase == "p2"  # a new state; the old one is untouched


# -- the whole tick ---------------------------------------------------------------------------
def commit(sha: str, subject: str) -> CommitView:
    return CommitView(sha * 8, subject, NOW)


def test_an_advance_leaves_restarted_agents_alone_for_the_rest_of_the_tick(loop_config: Config) -> None:
    state = state_of(phase=STARTED, handoff=HandoffState(last_seen="h0"), builder=AgentState(idle_since=NOW - 5000, facts=facts()))
    git = GitView(ok=True, head="h1", commits=(commit("r", "review(G1): PASS"),), status_done=True)
    step = decide(loop_config, state, observation(loop_config, git=git), NOW)
    builder = [a for a in unintended(step.actions) if getattr(a, "agent", "") == "builder"]
    assert builder == [Start("builder", "phase p2", kind="advance")]  # no ping (nor stall) into a session being replaced
    assert step.state.phase.index == 1 and step.state.handoff.last_seen == "h1"


def test_a_claim_pushed_with_the_done_marker_belongs_to_the_ending_phase(loop_config: Config) -> None:
    state = state_of(phase=STARTED, handoff=HandoffState(last_seen="h0"))
    git = GitView(ok=True, head="h1", commits=(commit("c", "claim(G2): last gate"),), status_done=True)
    step = decide(loop_config, state, observation(loop_config, git=git), NOW)
    assert GateChange("p1", None, "G2", "gate G2 claimed (cccccccc)", sha="c" * 8, subject="claim(G2): last gate", committed=NOW) \
        in step.actions
    # the adversary is restarted into p2, so only the persistent reviewer is pinged
    assert [k for k in kinds(step.actions) if k[0] in ("Deliver", "Start")] == [
        ("Start", "builder", "advance"), ("Start", "adversary", "advance"), ("Deliver", "second", "submit")]
    assert [m.kind for m in step.state.agent("second").outbox] == ["ping"]
    assert step.state.phase.index == 1 and step.state.handoff.gate is None  # not carried into p2
    assert not any(isinstance(a, Send) and a.agent == "adversary" for a in step.actions)
