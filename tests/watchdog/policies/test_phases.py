"""Phase machine and git handoff policies as tables over GitView observations (no git, no tmux)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from agent_orchestrator.config import Config, load_config
from agent_orchestrator.watchdog.model import CommitView, GateChange, GitView, Note, PhaseChange, PhaseView, Send, Start
from agent_orchestrator.watchdog.policies import handoff, phases, run_policies
from agent_orchestrator.watchdog.policies.phases import set_phase
from agent_orchestrator.watchdog.state import WatchdogState
from tests.watchdog.policies.test_policies import NOW, make_tick

CONFIG = """
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
on_complete = { run = "reporter" }

[loop.handoff]
claim_pings = ["adversary", "second"]
review_pings = "builder"
inboxes = { "inbox/builder.md" = "builder" }

[[agent]]
name = "builder"
kind = "loop"
[[agent]]
name = "adversary"
kind = "loop"
[[agent]]
name = "second"
kind = "persistent"
[[agent]]
name = "reporter"
kind = "task"
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}")
    (tmp_path / "plan.md").write_text("plan")
    (tmp_path / "agents.toml").write_text(textwrap.dedent(CONFIG))
    return load_config(tmp_path / "agents.toml")


def view(state: WatchdogState, config: Config) -> PhaseView:
    loop = config.loop
    ph = state.phase
    phase = loop.phases[min(ph.index, len(loop.phases) - 1)]  # type: ignore[union-attr]
    return PhaseView(ph.index, phase.id, phase.status, "## DONE", complete=ph.complete)


def tick(config: Config, state: WatchdogState, git: GitView | None, now: float = NOW):
    t = make_tick(config, state=state, now=now, heavy=False, phase=view(state, config))
    t.git = git
    return t


def commit(sha: str, subject: str) -> CommitView:
    return CommitView(sha * 8, subject, NOW)


# -- phase machine ----------------------------------------------------------------------------
def test_phase_advances_on_the_pushed_marker_and_restarts_loop_agents(config: Config) -> None:
    state = WatchdogState()
    assert phases(tick(config, state, GitView(ok=True, head="a", status_done=False))) == []
    state.agent("builder").nudged_phase = "p1"
    actions = phases(tick(config, state, GitView(ok=True, head="b", status_done=True)))
    assert actions[0] == PhaseChange("p1", 1, False, "p1 done: advancing to p2")
    assert [(a.agent, a.action) for a in actions[1:]] == [("builder", "advance"), ("adversary", "advance")]
    assert state.phase.index == 1 and state.phase.started == NOW
    assert state.agent("builder").nudged_phase is None  # DONE-nudge flags clear on advance


def test_no_advance_when_fetch_failed(config: Config) -> None:
    assert phases(tick(config, WatchdogState(), GitView(ok=False, error="timeout"))) == []


def test_last_phase_completes_once_then_on_complete_starts_exactly_once(config: Config) -> None:
    state = WatchdogState()
    state.phase.index = 1
    done = phases(tick(config, state, GitView(ok=True, head="c", status_done=True)))
    assert done == [PhaseChange("p2", 1, True, "p2 done: SEQUENCE-COMPLETE")]
    assert state.phase.complete and state.phase.on_complete == "pending"
    # next tick (the pending decision is on disk by now): the start goes out, "starting"
    started = phases(tick(config, state, None, now=NOW + 5))
    assert started == [Start("reporter", "sequence complete: on_complete", action="on-complete")]
    assert state.phase.on_complete == "starting"
    state.phase.on_complete = "started"  # what the executor records once the start went out
    assert phases(tick(config, state, None, now=NOW + 10)) == []


def test_on_complete_after_a_crash_mid_start_starts_exactly_once(config: Config) -> None:
    state = WatchdogState()
    state.phase.index, state.phase.complete, state.phase.completed_at = 1, True, NOW - 20
    state.phase.on_complete, state.phase.on_complete_prev_pid = "starting", 4242  # the old run's launcher
    t = make_tick(config, state=state, heavy=False, phase=view(state, config))
    # the watchdog died before the start: the launcher pid is still the old one → start it now
    t.views["reporter"] = replace(t.views["reporter"], launch_pid=4242)
    assert [type(a) for a in phases(t)] == [Start] and state.phase.on_complete == "starting"
    # it died after the start: a new launcher pid → only note it
    t.views["reporter"] = replace(t.views["reporter"], launch_pid=5151)
    actions = phases(t)
    assert [type(a) for a in actions] == [Note] and state.phase.on_complete == "started"


def test_appended_phases_resume_a_completed_sequence(config: Config, tmp_path: Path) -> None:
    state = WatchdogState()
    state.phase.index, state.phase.complete, state.phase.on_complete, state.phase.on_complete_phases = 1, True, "started", 2
    config.loop.phases.append(type(config.loop.phases[0])(id="p3", plan=tmp_path / "plan.md", status="s3.md"))  # type: ignore[union-attr]
    actions = phases(tick(config, state, None))
    assert isinstance(actions[0], PhaseChange) and actions[0].resumed == "p3" and not actions[0].complete
    assert [a.agent for a in actions[1:]] == ["builder", "adversary"]
    assert state.phase.index == 2 and not state.phase.complete
    # completing the extended sequence runs on_complete again (3 phases > the 2 it ran for)
    phases(tick(config, state, GitView(ok=True, head="d", status_done=True)))
    assert state.phase.on_complete == "pending" and state.phase.on_complete_phases == 3


def test_set_phase_by_hand(config: Config) -> None:
    state = WatchdogState()
    state.phase.complete, state.phase.on_complete = True, "started"
    state.agent("builder").nudged_phase = "p2"
    set_phase(state, 0, NOW, reset=True)
    assert (state.phase.index, state.phase.complete, state.phase.on_complete, state.phase.started) == (0, False, "", NOW)
    assert state.agent("builder").nudged_phase is None


# -- handoff ----------------------------------------------------------------------------------
def test_first_sight_baselines_without_pinging(config: Config) -> None:
    state = WatchdogState()
    git = GitView(ok=True, head="h1", commits=(), inbox_blobs={"inbox/builder.md": "x"})
    assert handoff(tick(config, state, git)) == []
    assert state.handoff.last_seen == "h1" and state.handoff.inbox == {"inbox/builder.md": "x"}


def test_claim_pings_every_reviewer_and_review_pings_the_builder(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "h0"
    git = GitView(ok=True, head="h2", commits=(commit("a", "claim(G1): parser"), commit("b", "wip"), commit("c", "Review(G0): PASS")))
    actions = handoff(tick(config, state, git))
    sends = [(a.agent, a.kind) for a in actions if isinstance(a, Send)]
    assert sends == [("adversary", "ping"), ("second", "ping"), ("builder", "ping")]
    claim_text = actions[0].text
    assert "claim(G1): parser" in claim_text and "aaaaaaaa" in claim_text and "wip" not in claim_text
    assert "Review(G0): PASS" in [a for a in actions if isinstance(a, Send) and a.agent == "builder"][0].text
    assert GateChange("p1", None, "G1", "gate G1 claimed (aaaaaaaa)") in actions
    assert state.handoff.last_seen == "h2" and state.handoff.gate == "G1"


def test_no_ping_without_new_commits_and_edge_triggered(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "h2"
    assert handoff(tick(config, state, GitView(ok=True, head="h2"))) == []


def test_inbox_change_pings_its_agent(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen, state.handoff.inbox = "h1", {"inbox/builder.md": "blob1"}
    same = handoff(tick(config, state, GitView(ok=True, head="h2", inbox_blobs={"inbox/builder.md": "blob1"})))
    assert same == []
    changed = handoff(tick(config, state, GitView(ok=True, head="h3", inbox_blobs={"inbox/builder.md": "blob2"})))
    assert [(a.agent, a.kind) for a in changed] == [("builder", "ping")] and "inbox/builder.md" in changed[0].text


def test_rewritten_history_rebaselines_without_repinging(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "old"
    actions = handoff(tick(config, state, GitView(ok=True, head="new", rewritten=True)))
    assert [a.action for a in actions] == ["history-rewritten"] and state.handoff.last_seen == "new"


def test_fetch_failures_are_events_once_and_recovery_is_noted(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "h1"
    failed = GitView(ok=False, error="fatal: could not read from remote")
    assert [a.action for a in handoff(tick(config, state, failed))] == ["fetch-failed"]
    assert handoff(tick(config, state, failed)) == []  # same error: not repeated every tick
    assert [a.action for a in handoff(tick(config, state, GitView(ok=True, head="h1")))] == ["fetch-ok"]


def test_handoff_stops_after_sequence_complete(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen, state.phase.complete = "h0", True
    git = GitView(ok=True, head="h1", commits=(commit("a", "claim(G9)"),))
    assert handoff(tick(config, state, git)) == []


def test_an_advance_leaves_restarted_agents_alone_for_the_rest_of_the_tick(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "h0"
    git = GitView(ok=True, head="h1", commits=(commit("r", "review(G1): PASS"),), status_done=True)
    actions = run_policies(tick(config, state, git))
    builder = [a for a in actions if getattr(a, "agent", "") == "builder"]
    assert [type(a).__name__ for a in builder] == ["Start"]  # no ping into a session being replaced


def test_a_claim_pushed_before_the_first_fetch_is_still_pinged(config: Config) -> None:
    # the driver hands over, on first sight, only the commits pushed since the run started
    state = WatchdogState()
    git = GitView(ok=True, head="h1", commits=(commit("a", "claim(G1): early"),), inbox_blobs={"inbox/builder.md": "x"})
    actions = handoff(tick(config, state, git))
    assert [(a.agent, a.kind) for a in actions if isinstance(a, Send)] == [("adversary", "ping"), ("second", "ping")]
    assert state.handoff.last_seen == "h1" and state.handoff.inbox == {"inbox/builder.md": "x"}


def test_advance_waits_for_a_busy_loop_agent_to_finish_its_turn(config: Config) -> None:
    from tests.watchdog.policies.test_policies import facts

    state = WatchdogState()
    busy = {"builder": facts(active=True)}
    git = GitView(ok=True, head="b", status_done=True)
    waiting = phases(_with(config, state, git, busy))
    assert [a.action for a in waiting] == ["phase-done-waiting"] and state.phase.index == 0
    assert phases(_with(config, state, git, busy, now=NOW + 30)) == []  # still busy, within the grace
    done = phases(_with(config, state, git, {"builder": facts()}, now=NOW + 31))
    assert isinstance(done[0], PhaseChange) and state.phase.index == 1
    state2 = WatchdogState()
    phases(_with(config, state2, git, busy))
    forced = phases(_with(config, state2, git, busy, now=NOW + 61))  # grace over: advance anyway
    assert isinstance(forced[0], PhaseChange)


def _with(config: Config, state: WatchdogState, git: GitView, screen: dict, now: float = NOW):
    t = make_tick(config, state=state, now=now, heavy=False, phase=view(state, config), screen=screen)
    t.git = git
    return t


def test_a_claim_pushed_with_the_done_marker_belongs_to_the_ending_phase(config: Config) -> None:
    state = WatchdogState()
    state.handoff.last_seen = "h0"
    git = GitView(ok=True, head="h1", commits=(commit("c", "claim(G2): last gate"),), status_done=True)
    actions = run_policies(tick(config, state, git))
    assert GateChange("p1", None, "G2", "gate G2 claimed (cccccccc)") in actions
    assert state.phase.index == 1 and state.handoff.gate is None  # not carried into p2
