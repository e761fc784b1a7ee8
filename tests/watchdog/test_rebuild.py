"""A lost or unusable state file is rebuilt from what is durable, so nothing runs twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.rebuild import rebuild_state
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
