"""The watchdog's state file: a JSON round trip, shape checks naming the bad key, and bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.watchdog.state import (
    AgentState,
    HandoffState,
    Intent,
    LimitWindow,
    Message,
    PhaseState,
    StateError,
    WatchdogState,
    from_json,
    load_state,
    read_state,
    save_state,
    state_path,
    to_json,
)
from tests.support.policies import NOW, facts

FULL = WatchdogState(
    agents={
        "a": AgentState(idle_since=NOW - 5, last_activity=NOW - 5, facts=facts(waiting_until=NOW + 5, dialog="trust", dialog_keys=["Enter"]),
                        last_start=NOW - 60, restarts=(NOW - 1, NOW), failed_starts=1, next_restart_at=NOW + 5, needs_human="",
                        nudged_phase="p1", limit=LimitWindow("b", NOW, NOW + 1, NOW - 1, probe_sent_at=NOW, probe_text="go on"),
                        next_wake_at=NOW + 600,
                        outbox=(Message("a-ping-1", "ping", "t", "r", NOW, "d", "claim", ("aaaa claim(G1)",), "sending", 2, NOW + 10,
                                        "e", NOW - 1, "busy"),),
                        dialogs_answered=1, paused=True, last_limit_banner="old"),
        "b": AgentState(),
    },
    phase=PhaseState(index=2, started=NOW - 100, complete=True, completed_at=NOW, on_complete="starting", on_complete_phases=3,
                     on_complete_prev_pid=4242, done_seen_at=NOW - 3),
    handoff=HandoffState(last_seen="abc", inbox={"inbox/a.md": "blob", "inbox/b.md": None}, gate="G1", gate_started=NOW - 7,
                         fetch_error="timeout", claims={"G1": "1800000000 aaaa claim(G1)"}, reviews={"G0": "1799999000 bbbb review(G0): PASS"}),
    last_heavy=NOW - 30, config_error="agents.toml: bad — naïve ✓", run_started=NOW - 3600, last_tick=NOW, pid=123, requests_done=("r1", "r2"),
    intents=(Intent("a-heal-1", "a", "heal", "exited", NOW, 4242, None, True),),
)


@pytest.mark.parametrize("state", [pytest.param(WatchdogState(), id="fresh"), pytest.param(FULL, id="every-field")])
def test_state_round_trips_through_json(tmp_path: Path, state: WatchdogState) -> None:
    assert from_json(json.loads(to_json(state))) == state
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert read_state(tmp_path) == (state, "")
    assert isinstance(load_state(tmp_path).agent("a").restarts, tuple)
    assert not list((tmp_path / "state").glob(".watchdog-*"))  # no temp file left behind


def test_missing_keys_keep_their_defaults_and_unknown_keys_are_ignored() -> None:
    state = from_json({"agents": {"a": {"paused": True, "from_the_future": 1}}, "newer": {"x": 1}})
    assert state == WatchdogState(agents={"a": AgentState(paused=True)})


@pytest.mark.parametrize("data,key,message", [
    pytest.param([], "", "expected a JSON object, got []", id="not-an-object"),
    pytest.param({"phase": None}, "phase", "expected an object, got null", id="phase-null"),
    pytest.param({"agents": []}, "agents", "expected an object, got []", id="agents-a-list"),
    pytest.param({"agents": {"a": None}}, "agents.a", "expected an object, got null", id="agent-null"),
    pytest.param({"agents": {"a": {"restarts": "x"}}}, "agents.a.restarts", 'expected a list, got "x"', id="restarts-a-string"),
    pytest.param({"agents": {"a": {"restarts": [1, "x"]}}}, "agents.a.restarts[1]", 'expected a number, got "x"', id="restart-time-a-string"),
    pytest.param({"agents": {"a": {"facts": {"dialog_keys": [1]}}}}, "agents.a.facts.dialog_keys[0]", "expected a string, got 1",
                 id="dialog-key-a-number"),
    pytest.param({"agents": {"a": {"paused": "yes"}}}, "agents.a.paused", 'expected true or false, got "yes"', id="paused-a-string"),
    pytest.param({"phase": {"index": True}}, "phase.index", "expected an integer, got true", id="index-a-bool"),
    pytest.param({"phase": {"index": 1.5}}, "phase.index", "expected an integer, got 1.5", id="index-a-float"),
    pytest.param({"handoff": {"inbox": {"i.md": 3}}}, "handoff.inbox.i.md", "expected a string, got 3", id="inbox-blob-a-number"),
    pytest.param({"requests_done": "r1"}, "requests_done", 'expected a list, got "r1"', id="requests-done-a-string"),
])
def test_a_wrong_shaped_state_names_the_key(data: Any, key: str, message: str) -> None:
    with pytest.raises(StateError) as caught:
        from_json(data)
    assert caught.value.key == key
    assert str(caught.value) == (f"{key}: {message}" if key else message)


def test_a_record_missing_a_required_field_names_the_key(tmp_path: Path) -> None:
    data = {"agents": {"a": {"limit": {"banner": "b"}}}}  # LimitWindow needs reset_at, until, detected_at
    with pytest.raises(StateError) as caught:
        from_json(data)
    assert caught.value.key.startswith("agents.a.limit")
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    state, why = read_state(tmp_path, set_aside=True)
    assert state == WatchdogState() and "agents.a.limit" in why
    assert path.with_suffix(".json.corrupt").exists()


@pytest.mark.parametrize("text,problem", [
    pytest.param("{torn", "Expecting property name", id="not-json"),
    pytest.param('{"phase": null}', "phase: expected an object, got null", id="phase-null"),
    pytest.param('{"agents": []}', "agents: expected an object, got []", id="agents-a-list"),
])
def test_a_bad_file_is_set_aside_only_by_the_watchdog(tmp_path: Path, text: str, problem: str) -> None:
    path = state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    # readers (status, watchers) get a fresh state and leave the file where it is
    assert load_state(tmp_path) == WatchdogState()
    state, why = read_state(tmp_path)
    assert state == WatchdogState() and problem in why and str(path) in why
    assert path.read_text() == text and not path.with_suffix(".json.corrupt").exists()
    # the watchdog, under its lock, keeps the bad file as watchdog.json.corrupt
    state, why = read_state(tmp_path, set_aside=True)
    assert state == WatchdogState() and problem in why and why.endswith("(kept as watchdog.json.corrupt)")
    assert not path.exists() and path.with_suffix(".json.corrupt").read_text() == text
    assert read_state(tmp_path) == (WatchdogState(), "")  # the next read starts afresh


def test_no_file_is_a_fresh_state_without_a_problem(tmp_path: Path) -> None:
    assert read_state(tmp_path, set_aside=True) == (WatchdogState(), "")
    assert not (tmp_path / "state").exists()
