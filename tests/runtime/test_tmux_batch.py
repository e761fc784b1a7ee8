"""`TmuxRuntime.capture_many` and the agent-pid cache against a real tmux server on a private
socket: one invocation for any number of captures, the same screens as one `capture` each, the
fallback when a session vanished between `observe` and the batch, and `agent_pid` reading the
launcher's record once per pane process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_orchestrator.runtime import tmux as tmux_module
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.spawns import counting
from tests.support.tmux import screen_has, wait_until

pytestmark = pytest.mark.tmux

# Prints its argument, then "READY", then waits (a pane with a known screen).
SHOW = "import sys, time; sys.stdout.write(sys.argv[1] + '\\nREADY'); sys.stdout.flush(); time.sleep(600)"

SCREENS = {
    "plain": "one line",
    "gaps": "first\n\n\nafter two blank rows   ",
    "unicode": "❯ ready · 100% — ünïcödé ✓",
    "lookalike": "ao-capture-0123456789abcdef 0\nao-capture-0123456789abcdef 1",  # shaped like a marker
    "semi": "a line ending in a semicolon;",
}


def start(runtime: TmuxRuntime, tmp_path: Path, session: str, text: str) -> None:
    runtime.start(session, [sys.executable, "-c", SHOW, text], cwd=tmp_path, width=100, height=20, spec_dir=tmp_path / "launch")
    assert wait_until(screen_has(runtime, session, "READY")), f"{session} did not come up"


@pytest.fixture
def runtime(socket: str, tmp_path: Path) -> TmuxRuntime:
    rt = TmuxRuntime(socket, spec_dir=tmp_path / "launch")
    for session, text in SCREENS.items():
        start(rt, tmp_path, session, text)
    return rt


def test_one_invocation_gives_every_screen_as_capture_does(runtime: TmuxRuntime) -> None:
    runtime.observe()
    singles = {s: runtime.capture(s) for s in SCREENS}
    with counting() as spawned:
        batch = runtime.capture_many(list(SCREENS))
    assert spawned.tmux == 1 and dict(spawned.subcommands) == {"capture-pane": 1}
    assert batch == singles
    assert batch["gaps"] == ["first", "", "", "after two blank rows", "READY"]  # inner blank rows kept, trailing ones not
    assert batch["lookalike"][:2] == ["ao-capture-0123456789abcdef 0", "ao-capture-0123456789abcdef 1"]
    assert runtime.capture_many([]) == {}


def test_before_any_observe_the_targets_are_exact_session_names(runtime: TmuxRuntime) -> None:
    fresh = TmuxRuntime(runtime.socket)  # no pane ids yet: `=name:` targets
    assert fresh.capture_many(["semi", "plain", "plai"]) == {"semi": runtime.capture("semi"), "plain": runtime.capture("plain")}


def test_a_session_killed_between_list_panes_and_the_batch_is_left_out(runtime: TmuxRuntime) -> None:
    runtime.observe()  # pane ids of every session, as a tick has them
    expected = {s: runtime.capture(s) for s in SCREENS if s != "gaps"}
    assert TmuxRuntime(runtime.socket).kill("gaps")  # someone else kills it after the observation
    assert not runtime.has_session("gaps") and "gaps" in runtime.pane_ids
    with counting() as spawned:
        batch = runtime.capture_many(list(SCREENS))
    # tmux abandoned the list at the vanished pane: the screens before it were kept, the rest
    # came from one more invocation.
    assert batch == expected
    assert spawned.tmux == 2


def test_several_vanished_sessions_and_a_vanished_last_one(runtime: TmuxRuntime) -> None:
    runtime.observe()
    names = list(SCREENS)
    expected = {s: runtime.capture(s) for s in names[1:-1] if s != "gaps"}
    other = TmuxRuntime(runtime.socket)
    for gone in (names[0], "gaps", names[-1]):  # the first, one in the middle, the last
        other.kill(gone)
    with counting() as spawned:
        assert runtime.capture_many(names) == expected
    assert spawned.tmux == 3  # the batch, then one more after each vanished session that had sessions after it


def test_no_server_is_one_invocation_and_nothing_captured(socket: str, tmp_path: Path) -> None:
    runtime = TmuxRuntime(socket)
    with counting() as spawned:
        assert runtime.capture_many(["a", "b", "c"]) == {}
    assert spawned.tmux == 1


def test_more_captures_than_one_client_message_holds_go_in_several_batches(runtime: TmuxRuntime,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    runtime.observe()
    singles = {s: runtime.capture(s) for s in SCREENS}
    monkeypatch.setattr(tmux_module, "_BATCH_BYTES", 150)  # about two captures a batch
    with counting() as spawned:
        assert runtime.capture_many(list(SCREENS)) == singles
    assert 2 <= spawned.tmux <= len(SCREENS)


def test_agent_pid_is_read_once_per_pane_process(runtime: TmuxRuntime, tmp_path: Path) -> None:
    spec_dir = tmp_path / "launch"
    record = spec_dir / "plain.json.pid"
    assert wait_until(record.exists)
    first = agent_pid(spec_dir, "plain")
    assert first is not None
    panes = runtime.observe()
    assert runtime.agent_pid("plain") == first
    # The record is not read again while the pane's process is the same one…
    record.unlink()
    runtime.observe()
    assert runtime.agent_pid("plain") == first
    # …and a new pane process (a restart) is read afresh.
    runtime.restart("plain", [sys.executable, "-c", SHOW, "again"], cwd=tmp_path, env=None, spec_dir=spec_dir)
    assert wait_until(record.exists)
    second = agent_pid(spec_dir, "plain")
    assert second is not None and second != first
    again = runtime.observe()
    assert again["plain"].pid != panes["plain"].pid
    assert runtime.agent_pid("plain") == second


def test_agent_pid_without_a_record_is_not_cached(socket: str, tmp_path: Path) -> None:
    runtime = TmuxRuntime(socket, spec_dir=tmp_path / "launch")
    start(runtime, tmp_path, "x", "hello")
    record = tmp_path / "launch" / "x.json.pid"
    assert wait_until(record.exists)
    kept = record.read_bytes()
    record.unlink()  # as before the launcher has written it
    runtime.observe()
    assert runtime.agent_pid("x") is None
    record.write_bytes(kept)
    assert runtime.agent_pid("x") == agent_pid(tmp_path / "launch", "x")
    # A session never observed is read from its file each time.
    assert TmuxRuntime(socket, spec_dir=tmp_path / "launch").agent_pid("x") == agent_pid(tmp_path / "launch", "x")
