"""The issue-run state machine as a table, and the CI verdict / argv slot helpers (all pure)."""

from __future__ import annotations

import pytest

from agent_orchestrator.watchers.issue_runs import decide as d

W, I, E, U = "working", "idle", "error", "unknown"  # noqa: E741 - one letter per status keeps the table readable
TABLE = [
    # status, commit, ci, fixes, budget, prompted, stalled -> choice
    (U, None, None, 0, 2, False, True, d.WAIT),
    (U, "c1", "red", 0, 2, False, True, d.WAIT),
    (U, "c1", "green", 0, 2, False, False, d.WAIT),
    (W, None, None, 0, 2, False, False, d.WAIT),
    (I, None, None, 0, 2, False, False, d.WAIT),
    (I, None, None, 0, 2, False, True, d.ESCALATE),
    (E, None, None, 0, 2, False, False, d.ESCALATE),
    (W, "c1", "pending", 0, 2, False, False, d.WAIT),
    (I, "c1", None, 0, 2, False, True, d.WAIT),
    (W, "c1", "green", 0, 2, False, False, d.CLOSE),
    (I, "c1", "green", 2, 2, True, True, d.CLOSE),
    (I, "c1", "red", 0, 2, False, False, d.FIX_FORWARD),
    (W, "c1", "red", 0, 2, False, False, d.WAIT),
    (I, "c1", "red", 1, 2, True, False, d.WAIT),
    (I, "c1", "red", 1, 2, True, True, d.FREEZE),
    (I, "c2", "red", 1, 2, False, False, d.FIX_FORWARD),
    (I, "c3", "red", 2, 2, False, False, d.FREEZE),
    (W, "c3", "red", 2, 2, False, False, d.FREEZE),
    (I, "c1", "red", 0, 0, False, False, d.FREEZE),
    (E, "c1", "red", 0, 2, False, False, d.FREEZE),
    (E, "c1", "pending", 0, 2, False, False, d.WAIT),
]


@pytest.mark.parametrize("status,commit,ci,fixes,budget,prompted,stalled,choice", TABLE)
def test_the_run_state_machine(status, commit, ci, fixes, budget, prompted, stalled, choice) -> None:
    verdict = d.decide(d.RunView(status, commit, ci, fixes, budget, prompted, stalled, elapsed=90))
    assert verdict.choice == choice, verdict.reason
    assert verdict.context in d.VOCABULARY.contexts and verdict.reason


def test_ci_output_and_slots() -> None:
    assert [d.ci_verdict(o) for o in ("green\n", "building...\nRED: 2 failed\n", "Pending", "", "ok")] == [
        "green", "red", "pending", None, None]
    assert d.fill(["./ci.sh", "{commit}", "--issue={issue}", "{reason}{x}"], commit="abc", issue="7", reason="{issue}") == [
        "./ci.sh", "abc", "--issue=7", "{issue}{x}"]


def test_the_fix_prompt_names_the_commit_and_the_attempt() -> None:
    text = d.fix_prompt("42", "a" * 40, "RED: 2 failed", 1, 2)
    assert "a" * 12 + " (RED: 2 failed)" in text and "a" * 13 not in text and "(issue 42, fix-forward 1 of 2)" in text
