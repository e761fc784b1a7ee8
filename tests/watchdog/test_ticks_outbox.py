"""Whole ticks over fakes: messages at turn boundaries, and a watchdog killed mid-tick.

The agents run on the demo backend in the in-memory tmux (tests/support/fake_runtime.py): a
busy agent shows `demo: working`, an idle one its reply; `rt.received(session)` is every text
submitted to it. No tmux, no git, no sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.watchdog.state import load_state
from tests.support.harness import Harness

LOOP = """
[watchdog]
heavy_interval = 30

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]

[loop.handoff]
claim_pings = "adversary"
review_pings = "builder"

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "adversary"
kind = "loop"
"""


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    (tmp_path / "work").mkdir()
    harness = Harness.make(tmp_path, LOOP)
    harness.git.push("Initial commit", {"s1.md": "# status\n", "s2.md": "# status\n"}, ts=harness.clock() - 3600)
    harness.tick()
    return harness


def pings(h: Harness, session: str) -> list[str]:
    return [t for t in h.rt.received(session) if t.startswith("Watchdog:")]


def test_a_ping_waits_for_the_busy_turn_to_end_then_lands_once(h: Harness) -> None:
    h.rt.busy("t-adversary")
    h.git.push("claim(G1): parser")
    assert h.tick(2) == [("", "gate"), ("adversary", "message-held")]
    assert pings(h, "t-adversary") == []
    assert h.tick(5) == []  # still busy: held, said once
    h.rt.idle("t-adversary", "reviewed something else")
    assert h.tick(2) == [("adversary", "ping")]
    (text,) = pings(h, "t-adversary")
    assert "claim(G1): parser" in text
    assert h.tick(2) == [] and len(pings(h, "t-adversary")) == 1
    assert h.events("ping")[0]["waited_s"] == 7.0  # from the tick that saw the claim


def test_pings_that_pile_up_during_one_turn_arrive_as_one_message(h: Harness) -> None:
    h.rt.busy("t-adversary")
    first = h.git.push("claim(G1): parser")
    h.tick(2)
    second = h.git.push("claim(G2): lexer")
    h.tick(2)
    h.rt.idle("t-adversary", "done")
    assert h.tick(2) == [("adversary", "ping")]
    (text,) = pings(h, "t-adversary")
    assert text.count(first[:8]) == 1 and text.count(second[:8]) == 1
    assert h.events("ping")[0]["merged"] == 2


def test_a_half_typed_human_line_is_never_overwritten(h: Harness) -> None:
    h.rt.panes["t-adversary"].input = "I am typing a note to the"
    h.rt.show("t-adversary", "a reply")
    h.git.push("claim(G1): parser")
    assert h.tick(2) == [("", "gate"), ("adversary", "message-held")]
    assert h.rt.panes["t-adversary"].input == "I am typing a note to the"
    assert "unsubmitted text in the input box" in h.events("message-held")[0]["reason"]
    h.rt.panes["t-adversary"].input = ""  # the person sent (or cleared) it
    h.rt.show("t-adversary", "answered the person")
    assert h.tick(2) == [("adversary", "ping")]


def test_a_busy_agent_gets_it_through_its_clis_queue_after_the_bounded_wait(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    body = LOOP + '\n[backend.demo]\nqueue_key = "Tab"\n\n[watchdog.message_wait]\nping = 60\n'
    h = Harness.make(tmp_path, body.replace("[watchdog]\nheavy_interval = 30\n", "[watchdog]\nheavy_interval = 30\n", 1))
    h.git.push("Initial commit", {"s1.md": "# status\n"}, ts=h.clock() - 3600)
    h.tick()
    h.rt.busy("t-adversary")
    h.git.push("claim(G1): parser")
    h.tick(2)
    assert h.tick(30) == []
    assert h.tick(30) == [("adversary", "ping")]
    assert len(h.rt.panes["t-adversary"].queued) == 1 and pings(h, "t-adversary") == []
    event = h.events("ping")[0]
    assert event["via"] == "queue key" and "handed to its CLI's queue" in event["reason"]
    assert load_state(h.dog.log_dir).agent("adversary").outbox == ()  # no hooks: the screen's word is all there is


def test_send_requests_go_through_the_outbox(h: Harness) -> None:
    h.rt.busy("t-builder")
    h.request("send", "builder", text="please rebase", kind="send", why="agents send")
    assert h.tick(1) == [("builder", "message-held")]
    h.rt.idle("t-builder", "done")
    assert h.tick(1) == [("builder", "send")]
    assert h.rt.received("t-builder")[-1] == "please rebase"


def test_a_watchdog_killed_after_deciding_an_advance_restarts_the_stranded_agents(h: Harness) -> None:
    """The decided state (phase p2, start intents) is on disk before the starts; the watchdog
    dies before any start goes out; the next one finishes the job instead of sitting in p2."""
    before = {s: h.rt.pid(s) for s in ("t-builder", "t-adversary")}

    def die(*_args: object, **_kwargs: object) -> None:
        raise SystemExit("kill -9")

    h.rt.restart = die  # type: ignore[method-assign]
    h.git.push("p1 done", {"s1.md": "## DONE\n"})
    with pytest.raises(SystemExit):
        h.tick(2)
    h.new_events()
    saved = load_state(h.dog.log_dir)
    assert saved.phase.index == 1 and {i.agent for i in saved.intents} == {"builder", "adversary"}
    del h.rt.restart  # the tmux server is fine; the watchdog process is gone
    h.restart()
    events = h.tick(2)
    assert events.count(("builder", "advance")) == 1 and events.count(("adversary", "advance")) == 1
    assert all(h.rt.pid(s) != before[s] for s in before)
    assert load_state(h.dog.log_dir).intents == ()
    assert h.tick(2) == []  # and nothing twice


def test_a_watchdog_killed_after_a_start_went_out_confirms_it_instead_of_repeating_it(h: Harness) -> None:
    real = h.rt.restart
    done: list[str] = []

    def start_then_die(session: str, *args: object, **kwargs: object) -> None:
        real(session, *args, **kwargs)  # type: ignore[arg-type]
        done.append(session)
        if len(done) == 2:
            raise SystemExit("kill -9 right after the second start")

    h.rt.restart = start_then_die  # type: ignore[method-assign]
    h.git.push("p1 done", {"s1.md": "## DONE\n"})
    with pytest.raises(SystemExit):
        h.tick(2)
    assert [e["action"] for e in h.new_events()] == ["phase-advance", "advance"]  # the second start's event never made it
    del h.rt.restart
    pids = {s: h.rt.pid(s) for s in ("t-builder", "t-adversary")}
    h.restart()
    assert sorted(h.tick(2)) == [("adversary", "start-confirmed"), ("builder", "start-confirmed")]
    assert {s: h.rt.pid(s) for s in pids} == pids  # confirmed, not started again


def test_a_healed_reviewer_is_told_the_claim_it_was_reviewing(h: Harness) -> None:
    h.git.push("claim(G1): parser")
    h.tick(2)
    assert len(pings(h, "t-adversary")) == 1
    h.rt.die("t-adversary", 137)  # killed mid-review
    events = h.tick(30)
    assert ("adversary", "heal") in events
    h.rt.idle("t-adversary", "fresh session")
    assert h.tick(5) == [("adversary", "reannounce")]  # once a screen shows the new session (outbox.START_SETTLE)
    again = pings(h, "t-adversary")[-1]
    assert again.startswith("Watchdog: you were restarted; still open for you") and "claim(G1): parser" in again
    h.git.push("review(G1): PASS")
    h.tick(2)
    h.rt.die("t-adversary", 137)
    assert ("adversary", "reannounce") not in h.tick(30) + h.tick(2)  # nothing open for it any more
