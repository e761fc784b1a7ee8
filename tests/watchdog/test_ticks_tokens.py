"""Whole ticks over fakes with the real token ledger: an unusable ledger state file is set aside,
said in events, and the ledger goes on (issue 12 finding 4); a reply written after the phase
advance still counts for its phase (issue 13 item 3)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.tokens.ledger import PHASE_SETTLE, Ledger, open_buckets, read_ledger
from agent_orchestrator.watchdog.driver import Watchdog
from tests.support.harness import Harness
from tests.support.transcripts import claude_assistant

BODY = """
[watchdog]
log_tokens = true

[[agent]]
name = "sup"
kind = "persistent"
"""


@pytest.mark.parametrize("garbage", ['{"scanner": [1, 2]}', "\x00not json"], ids=["wrong-shape", "not-json"])
def test_a_corrupt_ledger_state_is_an_event_and_is_kept(tmp_path: Path, garbage: str) -> None:
    h = Harness.make(tmp_path, BODY)
    state = tmp_path / "run" / "state" / "tokens.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(garbage)
    h.tick()
    [event] = [e for e in h.events() if e["action"] == "state-corrupt"]
    assert event["reason"].startswith(f"token ledger: {state}: ") and "kept as tokens.json.corrupt" in event["reason"]
    assert (state.parent / "tokens.json.corrupt").read_text() == garbage
    h.tick(advance=5)
    assert [e["action"] for e in h.events()].count("state-corrupt") == 1  # said once, not every tick
    assert state.exists() and state.read_text().startswith("{")  # a usable state again


LOOP = """
[watchdog]
log_tokens = true
heavy_interval = 30

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "adversary"
kind = "loop"
"""


def loop_with_ledger(tmp_path: Path) -> tuple[Harness, Callable[[int, float], None]]:
    """The LOOP team over fakes with the real ledger reading one Claude transcript for the
    builder; returns the harness and `say(output tokens, stamped at)`, which appends a reply."""
    (tmp_path / "work").mkdir()
    h = Harness.make(tmp_path, LOOP)
    transcript = tmp_path / "builder.jsonl"
    transcript.write_text("")
    said = iter(range(1, 100))

    def say(out: int, at: float) -> None:
        n = next(said)
        rec = json.loads(claude_assistant(f"msg_{n}", f"req_{n}", out=out))
        rec["timestamp"] = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with transcript.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        os.utime(transcript, (h.clock(), h.clock()))  # written now, by the test's clock

    def ledger(config: Config) -> Ledger:
        names = [a.name for a in config.agents]
        return Ledger(Path(config.defaults.log_dir), names, lambda a: [("claude", transcript)] if a == "builder" else [],
                      config.watchdog.token_granularity)

    h.dog = Watchdog(h.path, runtime=h.rt, git=lambda _p, _t: h.git, clock=h.clock, sleep=lambda _s: None, ledger=ledger)
    h.git.push("Initial commit", {"s1.md": "# status\n", "s2.md": "# status\n"}, ts=h.clock() - 3600)
    return h, say


def test_a_reply_written_after_the_advance_still_counts_for_its_phase(tmp_path: Path) -> None:
    """Claude Code can write a turn's last reply as the old session exits, after the advance
    that waited for its Stop (seen on 2.1.332): the watchdog records the phase PHASE_SETTLE
    seconds after its close, so that reply is still the phase's."""
    h, say = loop_with_ledger(tmp_path)
    h.tick()
    say(40, h.clock() + 1)
    h.tick(5)
    h.git.push("p1 done", {"s1.md": "## DONE\n"})
    assert ("", "phase-advance") in h.tick(5)
    advanced = h.clock()
    say(2, advanced - 0.5)  # the old session's last reply, stamped before the advance, on disk after it
    h.tick(2)
    assert read_ledger(h.dog.log_dir) == []  # the close waits PHASE_SETTLE
    say(7, h.clock())  # the new session's first reply
    h.tick(PHASE_SETTLE)
    [p1] = read_ledger(h.dog.log_dir)
    assert (p1["phase_id"], p1["agents"]["builder"]["output"], p1["ended"]) == ("p1", 42, advanced)
    h.tick(5)
    assert [r["phase_id"] for r in read_ledger(h.dog.log_dir)] == ["p1"]  # recorded once
    assert ("p2", 7) in [(r["phase_id"], r["agents"]["builder"]["output"]) for r in open_buckets(h.dog.log_dir)]


def test_a_last_phase_shorter_than_the_settle_is_recorded(tmp_path: Path) -> None:
    """p2 claims G2, is done and the sequence complete while p1's close still settles: p2 opens
    where p1 ended, with G2, and is closed at the completion — every row, nothing lost (seen in
    fast rehearsals)."""
    h, say = loop_with_ledger(tmp_path)
    h.tick()
    say(40, h.clock() + 1)
    h.tick(5)
    h.git.push("p1 done", {"s1.md": "## DONE\n"})
    assert ("", "phase-advance") in h.tick(5)
    advanced = h.clock()
    say(3, h.clock() + 0.5)  # p2's work, all within p1's settle time: before the claim…
    h.git.push("claim(G2): fast", ts=h.clock() + 1)
    assert ("", "gate") in h.tick(2)
    say(7, h.clock() + 1)  # …and after it
    h.git.push("p2 done", {"s2.md": "## DONE\n"})
    assert ("", "sequence-complete") in h.tick(2)
    completed = h.clock()
    for _ in range(4):
        h.tick(5)
    records = read_ledger(h.dog.log_dir)
    assert [(r["phase_id"], r["agents"]["builder"]["output"], r["ended"]) for r in records] == [
        ("p1", 40, advanced), ("p2:G2", 7, completed), ("p2", 3 + 7, completed)]
    assert records[2]["started"] == advanced
