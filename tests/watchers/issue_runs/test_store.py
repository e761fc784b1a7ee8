"""The runs file: typed `Run` records that round-trip the on-disk JSON byte for byte, a clear
error for a malformed record, and what `agents run` (start_run) refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.watchers.issue_runs.store import HistoryEntry, Run, RunError, RunRecordError, RunStore, start_run
from tests.support.issue_runs import T0

KEYS = {"issue", "agent", "prompt_file", "started_at", "repo", "base", "status", "agent_status", "last_progress_at", "commit",
        "ci", "ci_commit", "fixed_commits", "reason", "ended_at", "history"}


def record(**changes: Any) -> dict[str, Any]:
    """A run record as the runs file has always held it."""
    return {"issue": "42", "agent": "fixer", "prompt_file": "/p/prompt.md", "started_at": T0, "repo": "/p/fixer",
            "base": "b" * 40, "status": "needs-human", "agent_status": "idle", "last_progress_at": T0 + 30,
            "commit": "c" * 40, "ci": "red", "ci_commit": "c" * 40, "fixed_commits": ["a" * 40], "reason": "budget spent",
            "ended_at": T0 + 60, "history": [{"ts": T0, "choice": "start", "reason": "started fixer"},
                                             {"ts": T0 + 60, "choice": "freeze-and-escalate", "reason": "budget spent"}],
            **changes}


def test_a_run_round_trips_its_json_record() -> None:
    older = record(status="closed", base=None, commit=None, ci=None, ci_commit=None, fixed_commits=[], ended_at=T0 - 10)
    raw = record(previous=[older])
    run = Run.from_json(raw, "42")
    assert (run.status, run.fixed_commits, run.history[1]) == ("needs-human", ("a" * 40,),
                                                              HistoryEntry(T0 + 60, "freeze-and-escalate", "budget spent"))
    assert run.previous[0].base is None and run.previous[0].previous == ()
    assert run.to_json() == raw
    assert set(Run.from_json(record(), "42").to_json()) == KEYS  # no `previous` key without an earlier run


def test_the_runs_file_is_rewritten_byte_for_byte(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    raw = {"42": record(previous=[record(status="closed")]), "7": record(issue="7", status="running", ended_at=None)}
    text = json.dumps({"runs": raw}, indent=1, sort_keys=True)
    store.path.write_text(text, encoding="utf-8")
    with store.edit() as runs:
        assert set(runs) == {"42", "7"} and runs["7"].ended_at is None
    assert store.path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("raw,message", [
    ("not a record", "issue 42: expected a JSON object, got 'not a record'"),
    (record(started_at="yesterday"), "issue 42: started_at: expected epoch seconds, got 'yesterday'"),
    (record(started_at=True), "issue 42: started_at: expected epoch seconds, got True"),
    ({k: v for k, v in record().items() if k != "agent"}, "issue 42: agent: missing"),
    (record(commit=7), "issue 42: commit: expected text or null, got 7"),
    (record(fixed_commits="abc"), "issue 42: fixed_commits: expected a list, got 'abc'"),
    (record(fixed_commits=[1]), "issue 42: fixed_commits: expected a list of commit shas, got [1]"),
    (record(history=[{"ts": T0}]), "issue 42: history[0]: choice: missing"),
    (record(previous=[record(repo=None)]), "issue 42: previous[0]: repo: expected text, got None"),
], ids=["not an object", "text time", "bool time", "missing agent", "number commit", "text list", "number sha",
        "history entry", "previous run"])
def test_a_malformed_record_names_the_issue_and_the_field(raw: Any, message: str) -> None:
    with pytest.raises(RunRecordError) as info:
        Run.from_json(raw, "42")
    assert str(info.value) == message


def test_loading_a_malformed_file_names_it_and_editing_it_writes_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    text = json.dumps({"runs": {"42": record(), "43": record(issue="43", ci=["green"])}})
    store.path.write_text(text, encoding="utf-8")
    with pytest.raises(RunRecordError, match=r"runs\.json: issue 43: ci: expected text or null, got \['green'\]; fix or remove"):
        store.load()
    with pytest.raises(RunRecordError), store.edit():
        pass
    assert store.path.read_text(encoding="utf-8") == text
    store.path.write_text("{not json", encoding="utf-8")
    assert store.load() == {}  # an unreadable file is no runs, as before


def test_start_run_records_every_field(run_project, tmp_path: Path) -> None:
    r = run_project()
    started = start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    on_disk = json.loads((r.log_dir / "state" / "runs.json").read_text())["runs"]["42"]
    assert set(on_disk) == KEYS and on_disk == started.run.to_json()
    assert (on_disk["status"], on_disk["agent_status"], on_disk["fixed_commits"], on_disk["ended_at"]) == ("running", "unknown", [], None)
    assert on_disk["history"] == [{"ts": T0, "choice": "start", "reason": "started fixer"}]


def test_agents_run_refuses_what_it_cannot_watch(run_project, tmp_path: Path) -> None:
    r = run_project()
    with pytest.raises(RunError, match="task"):
        start_run(r.project, "1", "runs", tmp_path / "prompt.md", T0)
    (tmp_path / "empty.md").write_text("  \n")
    with pytest.raises(RunError, match="empty"):
        start_run(r.project, "1", "fixer", tmp_path / "empty.md", T0)
    shutil.rmtree(r.clone / ".git")
    with pytest.raises(RunError, match="nowhere to see the pushed commit"):
        start_run(r.project, "1", "fixer", tmp_path / "prompt.md", T0)
