"""Text from git reaches a pane as text, never as keystrokes (issue 12, finding 9): whole ticks
over fakes (tests/support/harness.py). A commit subject holding `ESC[201~` — the end of a
bracketed paste — and `^U`/`^C` once erased the watchdog's ping in a reviewer's input box."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import Harness

LOOP = """
[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [{ id = "p1", plan = "plan.md", status = "s1.md" }]

[loop.handoff]
claim_pings = "adversary"

[[agent]]
name = "adversary"
prompt = "You review."
"""

HOSTILE = "claim(G1): fine\x1b[201~\x15\x03 rm -rf"


def test_a_hostile_commit_subject_is_pasted_as_visible_text(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    h = Harness.make(tmp_path, LOOP)
    h.git.push("Initial commit", {"s1.md": "# status\n"}, ts=h.clock() - 3600)
    h.tick()
    h.git.push(HOSTILE)
    assert ("adversary", "ping") in h.tick(2)
    (ping,) = [t for t in h.rt.received("t-adversary") if t.startswith("Watchdog:")]
    assert "claim(G1): fine^[[201~^U^C rm -rf" in ping
    assert not any(ord(ch) < 0x20 and ch not in "\t\n" for ch in ping), repr(ping)
