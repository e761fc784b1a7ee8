"""A lost or unusable state file is rebuilt from what is durable, so nothing runs twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.rebuild import ON_COMPLETE_PID, rebuild_state
from agent_orchestrator.watchdog.state import state_path
from tests.support.harness import Harness
from tests.support.policies import NOW, write_config

LOOP = """
[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]
on_complete = { run = "reporter" }

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "reporter"
kind = "task"
"""


@pytest.fixture
def loop_config(tmp_path: Path) -> Config:
    folder = tmp_path / "project"
    folder.mkdir()
    return write_config(folder, '[defaults]\nsession_prefix = "t-"\nlog_dir = "run"\nbackend = "demo"\n' + LOOP)


def ev(action: str, dt: float, **kw: object) -> dict[str, object]:
    return {"ts": NOW + dt, "agent": "", "action": action, "reason": "", **kw}


def test_rebuilt_from_the_event_log(loop_config: Config, tmp_path: Path) -> None:
    log = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1, phase="p1")]
    state, account = rebuild_state(loop_config, tmp_path, log)
    assert (state.phase.index, state.phase.complete, state.phase.started, state.run_started) == (1, False, NOW + 10, NOW)
    assert account == "phase p2 (2/2), from the event log"


def test_after_sequence_complete_on_complete_runs_once_whatever_was_lost(loop_config: Config, tmp_path: Path) -> None:
    (tmp_path / "SEQUENCE-COMPLETE").write_text("done\n")
    ran = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1), ev("sequence-complete", 20), ev("on-complete", 21)]
    assert rebuild_state(loop_config, tmp_path, ran)[0].phase.on_complete == "started"
    due = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1), ev("sequence-complete", 20)]
    assert rebuild_state(loop_config, tmp_path, due)[0].phase.on_complete == "pending"  # the log says it had not run yet
    state, account = rebuild_state(loop_config, tmp_path, [])  # the log lost too: the marker alone
    assert (state.phase.index, state.phase.complete, state.phase.on_complete) == (1, True, "started")
    assert account.endswith("from the SEQUENCE-COMPLETE marker")


def test_nothing_durable_means_a_fresh_start(loop_config: Config, tmp_path: Path) -> None:
    state, account = rebuild_state(loop_config, tmp_path, [])
    assert state.phase.index == 0 and account == ""


def test_a_watchdog_that_lost_its_state_after_completion_does_not_run_the_reporter_again(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    h = Harness.make(tmp_path, LOOP)
    h.git.push("Initial commit", {"s1.md": "# s\n", "s2.md": "# s\n"}, ts=h.clock() - 3600)
    h.tick()
    h.git.push("p1 done", {"s1.md": "## DONE\n"})
    h.tick(2)
    h.git.push("p2 done", {"s2.md": "## DONE\n"})
    assert ("", "sequence-complete") in h.tick(2)
    assert ("reporter", "on-complete") in h.tick(2)
    state_path(h.dog.log_dir).write_text(json.dumps({"phase": None}))  # garbage of the right syntax
    h.restart()
    h.dog.recover()
    assert [e for e, _ in h.dog.recovered] == ["state-corrupt", "state-rebuilt"]
    assert h.tick(2) == [] and h.tick(30) == []  # no re-advance, no second reporter
    assert len(h.events("on-complete")) == 1
    assert (state_path(h.dog.log_dir).parent / "watchdog.json.corrupt").exists()


def test_temp_files_left_by_a_kill_mid_save_are_removed_at_start(tmp_path: Path) -> None:
    h = Harness.make(tmp_path, '[[agent]]\nname = "a"\n')
    h.tick()
    folder = state_path(h.dog.log_dir).parent
    (folder / ".watchdog-abc123").write_text("{half")
    (folder / ".tokens-xyz").write_text("{half")
    h.restart()
    h.dog.recover()
    assert not list(folder.glob(".watchdog-*")) and not list(folder.glob(".tokens-*"))


def test_what_each_agent_was_pinged_for_comes_from_the_log_and_its_clis_own_prompts(loop_config: Config, tmp_path: Path) -> None:
    log = [ev("watchdog-start", 0), {**ev("ping", 5, commits=["aaaaaaaa"]), "agent": "builder"},
           {**ev("nudge", 6), "agent": "builder"}]
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    prompts = [{"ts": NOW + 7, "event": "UserPromptSubmit", "data": {"prompt": "Watchdog: new review on origin/main: bbbbbbbb review(G1): PASS."}},
               {"ts": NOW + 8, "event": "UserPromptSubmit", "data": {"prompt": "please look at cccccccc"}},  # not ours
               {"ts": NOW + 9, "event": "Stop", "data": {}}]
    (hooks / "builder.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts) + '{"torn')
    state, _ = rebuild_state(loop_config, tmp_path, log)
    assert state.handoff.announced == {"builder": ("aaaaaaaa", "bbbbbbbb")} and state.handoff.last_seen is None


def test_the_marker_alone_decides_on_complete_by_the_pid_it_recorded(loop_config: Config, tmp_path: Path) -> None:
    marker = tmp_path / "SEQUENCE-COMPLETE"
    marker.write_text(f"2027-01-01T00:00:00Z p2 done: SEQUENCE-COMPLETE\n{ON_COMPLETE_PID}4242\n")
    ph = rebuild_state(loop_config, tmp_path, [])[0].phase
    assert (ph.complete, ph.on_complete, ph.on_complete_prev_pid) == (True, "starting", 4242)  # checked against the launcher
    marker.write_text(f"2027-01-01T00:00:00Z p2 done: SEQUENCE-COMPLETE\n{ON_COMPLETE_PID}None\n")
    assert rebuild_state(loop_config, tmp_path, [])[0].phase.on_complete_prev_pid is None
    completed = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1), ev("sequence-complete", 20, pids={"reporter": 77})]
    ph = rebuild_state(loop_config, tmp_path, completed)[0].phase
    assert (ph.on_complete, ph.on_complete_prev_pid) == ("starting", 77)


def test_the_starts_of_a_phase_change_not_seen_done_are_owed(loop_config: Config, tmp_path: Path) -> None:
    log = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1, pids={"builder": 11})]
    (intent,) = rebuild_state(loop_config, tmp_path, log)[0].intents
    assert (intent.agent, intent.kind, intent.prev_pid, intent.created) == ("builder", "advance", 11, NOW + 10)
    done = [*log, {**ev("advance", 10), "agent": "builder"}]
    assert rebuild_state(loop_config, tmp_path, done)[0].intents == ()
    old_log = [ev("watchdog-start", 0), ev("phase-advance", 10, index=1)]  # no pids: nothing to check against
    assert rebuild_state(loop_config, tmp_path, old_log)[0].intents == ()
