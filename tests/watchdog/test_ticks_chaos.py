"""Regression tests for what the chaos suite (tests/support/chaos.py, tests/e2e/test_chaos.py,
bench/chaos.py) found: whole ticks over fakes (tests/support/harness.py) — a watchdog killed
mid-tick (`Killed`), its state file corrupted, restarted on an edit — no tmux, no git, no sleeps.
The same moments replayed as one `decide`: test_decide_chaos.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.state import load_state, state_path
from tests.support.harness import Harness

TEAM = """
[watchdog]
heavy_interval = 30

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]
on_complete = { run = "reporter" }

[loop.handoff]
claim_pings = "adversary"
review_pings = "builder"

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "adversary"
kind = "loop"

[[agent]]
name = "reporter"
kind = "task"
prompt = "Write the report."
"""


class Killed(BaseException):
    """Stands in for SIGKILL inside a tick (BaseException: nothing in the tick may catch it)."""


@pytest.fixture
def team(tmp_path: Path) -> Harness:
    """The team up, origin/main with the status files, and a first watchdog that ticked once
    (its start logged, as `Watchdog.run` logs it: a rebuilt state dates the run from it)."""
    (tmp_path / "work").mkdir()
    h = Harness.make(tmp_path, TEAM)
    h.git.push("Initial commit", {"s1.md": "# status\n", "s2.md": "# status\n"}, ts=h.clock() - 3600)
    h.dog.events.emit("", "watchdog-start", "pid 1, config agents.toml", h.clock())
    assert h.tick() == [("", "watchdog-start")]
    return h


def corrupt_and_restart(h: Harness, text: str = '{"version": 2, "phase": null, "extra": []}') -> list[str]:
    """The state file replaced by `text` while no watchdog runs; a new one recovers (as
    `Watchdog.run` does under the lock) and ticks. Returns the events of its recovery."""
    state_path(h.dog.log_dir).write_text(text)
    h.restart()
    h.dog.recover()
    return [event for event, _ in h.dog.recovered]


def pings(h: Harness, session: str) -> list[str]:
    return [t for t in h.rt.received(session) if t.startswith("Watchdog:")]


def test_a_rebuilt_state_does_not_ping_again_what_was_announced(team: Harness) -> None:
    """Seen in test_chaos (garbage in watchdog.json after a kill): the rebuilt state had no head
    seen, so the first fetch re-read everything pushed since the run started and every claim and
    review was pinged a second time."""
    claim = team.git.push("claim(G1): parser")
    team.tick(2)
    review = team.git.push("review(G1): FAIL - no test")
    team.tick(2)
    assert [len(pings(team, s)) for s in ("t-adversary", "t-builder")] == [1, 1]
    assert corrupt_and_restart(team) == ["state-corrupt", "state-rebuilt"]
    assert team.tick(2) == [("", "gate")]  # the gate in flight found again; no ping
    fixed = team.git.push("claim(G1): cover empty input")
    assert ("adversary", "ping") in team.tick(2)
    texts = pings(team, "t-adversary")
    assert len(texts) == 2 and fixed[:8] in texts[1] and claim[:8] not in texts[1]
    assert len(pings(team, "t-builder")) == 1 and review[:8] in pings(team, "t-builder")[0]


def test_a_rebuilt_state_pings_what_was_pushed_but_never_announced(team: Harness) -> None:
    team.rt.busy("t-adversary")
    claim = team.git.push("claim(G1): parser")
    assert team.tick(2) == [("", "gate"), ("adversary", "message-held")]  # queued: the adversary is busy
    corrupt_and_restart(team, "{half a file")  # the outbox is lost with the state
    team.rt.idle("t-adversary", "done")
    assert ("adversary", "ping") in team.tick(2)
    assert [claim[:8] in t for t in pings(team, "t-adversary")] == [True]


def test_loop_agents_left_in_the_old_phase_are_restarted_after_a_rebuild(team: Harness) -> None:
    """Finding 2 through a lost state: killed while starting the loop agents of p2 and the state
    file unusable after — the rebuilt state owes their starts (the phase-advance event's pids)."""
    before = {s: team.rt.pid(s) for s in ("t-builder", "t-adversary")}
    real = team.rt.restart
    done: list[str] = []

    def start_one_then_die(session: str, *args: object, **kwargs: object) -> None:
        if done:
            raise Killed()
        real(session, *args, **kwargs)  # type: ignore[arg-type]
        done.append(session)

    team.rt.restart = start_one_then_die  # type: ignore[method-assign]
    team.git.push("p1 done", {"s1.md": "## DONE\n"})
    with pytest.raises(Killed):
        team.tick(2)
    del team.rt.restart
    assert done == ["t-builder"] and [e["action"] for e in team.new_events()] == ["phase-advance", "advance"]
    assert corrupt_and_restart(team) == ["state-corrupt", "state-rebuilt"]
    assert "restart of adversary owed" in team.dog.recovered[1][1]
    assert team.tick(2) == [("adversary", "advance")]
    assert team.rt.pid("t-builder") != before["t-builder"] and team.rt.pid("t-adversary") != before["t-adversary"]
    assert [len(team.rt.starts(s)) for s in ("t-builder", "t-adversary")] == [2, 2]  # up + one advance each
    assert team.tick(2) == [] and load_state(team.dog.log_dir).intents == ()


def test_on_complete_started_before_the_state_was_lost_is_not_started_again(team: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 3 through a lost state: the reporter's start went out, the watchdog died before
    it recorded that, and its state file is unusable: the rebuilt state checks the reporter's
    launcher pid against the one the sequence-complete event recorded."""
    team.git.push("p1 done", {"s1.md": "## DONE\n"})
    team.tick(2)
    team.git.push("p2 done", {"s2.md": "## DONE\n"})
    assert team.tick(2) == [("", "sequence-complete")]
    real_start = Project.start

    def dies_after_starting_the_reporter(self: Project, unit, *args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = real_start(self, unit, *args, **kwargs)
        if unit.name == "reporter":
            raise Killed()
        return outcome

    monkeypatch.setattr(Project, "start", dies_after_starting_the_reporter)
    with pytest.raises(Killed):
        team.tick(2)
    monkeypatch.setattr(Project, "start", real_start)
    assert len(team.rt.starts("t-reporter")) == 1 and team.new_events() == []  # started, not logged
    assert corrupt_and_restart(team) == ["state-corrupt", "state-rebuilt"]
    assert team.tick(2) == [("reporter", "on-complete-confirmed")]
    assert team.tick(2) == [] and len(team.rt.starts("t-reporter")) == 1


def test_on_complete_not_yet_started_when_the_state_was_lost_runs_once(team: Harness) -> None:
    team.git.push("p1 done", {"s1.md": "## DONE\n"})
    team.tick(2)
    team.git.push("p2 done", {"s2.md": "## DONE\n"})
    assert team.tick(2) == [("", "sequence-complete")]
    assert corrupt_and_restart(team) == ["state-corrupt", "state-rebuilt"]
    assert team.tick(2) == [("reporter", "on-complete")]
    assert team.tick(2) == [] and len(team.rt.starts("t-reporter")) == 1


def test_a_watchdog_restarted_on_an_identity_edit_keeps_the_running_values(team: Harness) -> None:
    """Finding 7 through a restart: the launcher restarts a killed watchdog while a session_prefix
    edit (or a truncated file without [loop]) stands; it must defer it like the running one did,
    not start a second team (or split the ledger)."""
    original = team.path.read_text()
    for edited, why in ((original.replace('session_prefix = "t-"', 'session_prefix = "u-"'), "session_prefix changed"),
                        (original[:original.index("[loop]")], "[loop] removed mid-sequence")):
        team.path.write_text(edited)
        team.restart()
        assert team.dog.config.defaults.session_prefix == "t-" and team.dog.config.loop is not None
        assert [e["reason"] for e in team.new_events() if e["action"] == "config-deferred"] == [
            f"deferred: {why}; the watchdog keeps the running values until `agents down` and `agents up` (started on the last good config)"]
        team.dog.recover()
        assert team.tick(2) == []
        assert sorted(team.rt.panes) == ["t-adversary", "t-builder"] and why in team.state_json()["config_error"]
        team.path.write_text(original)
        assert team.tick(2) == [("", "config-valid")]


def test_a_message_for_a_just_restarted_agent_waits_until_its_new_session_shows(team: Harness) -> None:
    """Seen in test_chaos (the reviewer killed mid-review): the re-announcement went out 0.1 s
    after the heal, into a CLI that was not drawn yet; the screen check passed (an empty box),
    the text was lost, the run hung. It now waits for a screen captured START_SETTLE after the
    start (or the new session's hooks seeing a turn end)."""
    claim = team.git.push("claim(G1): parser")
    team.tick(2)
    team.rt.die("t-adversary", 137)
    assert ("adversary", "heal") in team.tick(30)
    assert team.tick(1) == [("adversary", "message-held")]
    assert team.events("message-held")[-1]["reason"] == "reannounce waits: the agent is starting"
    assert len(pings(team, "t-adversary")) == 1
    assert team.tick(3) == [("adversary", "reannounce")]
    assert claim[:8] in pings(team, "t-adversary")[-1]




def test_a_watchdog_killed_right_after_pasting_a_ping_only_submits_it(team: Harness) -> None:
    """Finding 1 at the killer's "paste" moment (tests/support/chaos.py): the watchdog dies right
    after the ping's text reached the pane, before the submit key and its checkpoint. The next
    one finds the message "sending" with its text still in the box and only submits it — the
    claim reaches the adversary once. (Killed right after the submit key: test_decide_chaos.py.)"""
    real_paste = team.rt.paste

    def paste_then_die(session: str, text: str) -> None:
        real_paste(session, text)
        if session == "t-adversary":
            raise Killed()

    team.rt.paste = paste_then_die  # type: ignore[method-assign]
    claim = team.git.push("claim(G1): parser")
    with pytest.raises(Killed):
        team.tick(2)
    del team.rt.paste
    team.restart()
    assert ("adversary", "ping") in team.tick(2)  # logged by the new watchdog: the killed one could not
    assert team.tick(2) == [] and team.tick(30) == []
    texts = pings(team, "t-adversary")
    assert len(texts) == 1 and claim[:8] in texts[0], texts
    assert len([e for e in team.rt.log if e[0] == "paste" and e[1] == "t-adversary"]) == 1
    assert load_state(team.dog.log_dir).agent("adversary").outbox == ()
