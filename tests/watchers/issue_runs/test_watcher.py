"""The issue-run watcher: a task agent's status from its pane, then whole runs through the
watcher's shell with real git and injected tmux / CI / delivery fakes (no sleeps: time is passed in)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchers.issue_runs import decide as d
from agent_orchestrator.watchers.issue_runs import watcher as ir
from agent_orchestrator.watchers.issue_runs.store import RunError, RunStore, start_run
from tests.support.issue_runs import T0, git


def test_agent_status_from_the_pane() -> None:
    config_backend = SimpleNamespace(screen="", active_re=r"^demo: working", input_re=r"^demo>\s?(.*)$", limit_re="",
                                     fatal_re="", dialogs=[], process_name=["python"])
    pane = PaneObservation("s", "%1", 1, False, None, "python", T0, T0, 80, 24)
    assert ir.agent_status(None, None, config_backend) == ("error", "session gone")
    assert ir.agent_status(pane, None, config_backend)[0] == "unknown"
    assert ir.agent_status(pane, ["demo: working", "demo> "], config_backend)[0] == "working"
    assert ir.agent_status(pane, ["hello", "demo> "], config_backend)[0] == "idle"
    assert ir.agent_status(PaneObservation("s", "%1", 1, False, None, "bash", T0, T0, 80, 24), ["$ "], config_backend)[0] == "error"
    dead = PaneObservation("s", "%1", 1, True, None, "python", T0, T0, 80, 24)
    assert ir.agent_status(dead, None, config_backend, exit_code=0)[0] == "idle"
    assert ir.agent_status(dead, None, config_backend, exit_code=3) == ("error", "exited with status 3")


# -- whole runs through the shell ---------------------------------------------------------------------


def test_red_fix_forward_then_budget_spent_freezes_and_escalates(run_project, tmp_path: Path) -> None:
    r = run_project(budget=1)
    started = start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    assert not started.outcome.failed and started.watchers == ["runs"]
    assert r.runtime.started[0][0] == "r-fixer" and r.runtime.started[0][1][-1] == "Fix issue 42.\n"
    assert r.run().status == "running" and r.run().base == git(r.clone, "rev-parse", "HEAD")
    assert r.tick(T0 + 10) == [] and r.run().agent_status == "working"
    a = r.commit("fix: issue 42", T0 + 20)
    r.ci[a] = "red"
    r.screen("pushed it")
    assert r.tick(T0 + 30) == [d.FIX_FORWARD]
    assert len(r.sent) == 1 and a[:12] in r.sent[0] and "fix-forward 1 of 1" in r.sent[0]
    assert r.tick(T0 + 40) == [] and len(r.sent) == 1  # one prompt per red commit
    b = r.commit("fix: issue 42 again", T0 + 50)
    r.ci[b] = "red"
    assert r.tick(T0 + 60) == [d.FREEZE]
    run = r.run()
    assert run.status == "needs-human" and "budget (1) is spent" in run.reason
    assert run.fixed_commits == (a,) and [h.choice for h in run.history] == ["start", d.FIX_FORWARD, d.FREEZE]
    assert r.paused == ["fixer"]
    assert r.commands[-1] == ["notify", "42", run.reason]
    assert [e["action"] for e in read_events(r.log_dir) if e["agent"] == "fixer"] == ["run-escalated"]
    assert [f.open for f in r.ledger.flags()] == [False, True]  # the fix-forward is an action, the escalation a flag
    calls = len(r.commands)
    assert r.tick(T0 + 1000) == [] and len(r.commands) == calls  # a terminal run is not ticked again


def test_pushed_and_green_closes_the_run(run_project, tmp_path: Path) -> None:
    r = run_project()
    start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    a = r.commit("fix: issue 42", T0 + 20)
    r.ci[a] = "pending"
    assert r.tick(T0 + 30) == []
    r.ci[a] = "green"
    assert r.tick(T0 + 40) == [d.CLOSE]
    assert r.run().status == "closed" and r.ledger.flags(open_only=True) == []
    assert [e["action"] for e in read_events(r.log_dir)] == ["run-closed"]
    with pytest.raises(RunError, match="no such agent"):
        start_run(r.project, "43", "nosuch", tmp_path / "prompt.md", T0)
    again = start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0 + 100)  # a closed issue may run again
    assert again.run.status == "running" and RunStore(r.log_dir).load()["42"].previous[0].status == "closed"


def test_stalled_before_push_escalates_once_and_unknown_never_acts(run_project, tmp_path: Path) -> None:
    r = run_project()
    start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    r.screen("Do you trust this folder?", "1. Yes")  # unsubmitted input / a dialog: the status is unknown
    r.runtime.screens["r-fixer"] = ["demo> half a message"]
    assert r.tick(T0 + 1000) == [] and r.run().agent_status == "unknown"
    with pytest.raises(RunError, match="in flight"):
        start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0 + 1000)
    with pytest.raises(RunError, match="busy with issue 42"):
        start_run(r.project, "43", "fixer", tmp_path / "prompt.md", T0 + 1000)
    r.screen("thinking about it")
    assert r.tick(T0 + 1001) == [d.ESCALATE]
    assert r.run().status == "needs-human" and "nothing pushed" in r.run().reason and r.paused == []
    assert r.tick(T0 + 2000) == []
    assert len(r.ledger.flags(open_only=True)) == 1


def test_a_malformed_runs_file_is_a_note_not_a_crash(run_project, tmp_path: Path) -> None:
    r = run_project()
    start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    path = r.log_dir / "state" / "runs.json"
    data = json.loads(path.read_text())
    data["runs"]["42"]["started_at"] = "yesterday"
    path.write_text(json.dumps(data))
    report = r.watcher.tick(T0 + 10)
    assert report.new == [] and r.sent == []
    assert report.notes == [f"{path}: issue 42: started_at: expected epoch seconds, got 'yesterday'; fix or remove that record"]
    assert json.loads(path.read_text()) == data  # left as it was
