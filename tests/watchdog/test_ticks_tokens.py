"""Whole ticks over fakes with the real token ledger: an unusable ledger state file is set aside,
said in events, and the ledger goes on (issue 12 finding 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import Harness

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
