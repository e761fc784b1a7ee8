"""Three witnesses → one verdict: a table of (hooks, status file, screen) → (state, source)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth.fold import ANSWER_LAG, CONFLICT_GRACE, REDRAW_LAG, Witnesses, due_report, judge
from agent_orchestrator.truth.hook_events import prompt_digest
from agent_orchestrator.truth.model import HookState, PromptSeen

T = 1_800_000_000.0
BUSY = HookState(turn="busy", last_event="UserPromptSubmit", last_event_at=T)
TOOL = replace(BUSY, tool="Bash", last_event="PreToolUse")
IDLE = HookState(turn="idle", last_event="Stop", last_event_at=T)
FAILED = replace(IDLE, api_error="rate_limit", last_event="StopFailure")
ASKING = replace(TOOL, needs_input="permission: Bash", last_event="PermissionRequest")
ENDED = HookState(ended=True, last_event="SessionEnd", last_event_at=T)
SUBMITTED = replace(BUSY, prompts=(PromptSeen(prompt_digest("Hold on."), "p1", T),))


def screen(state: str, **kw: Any) -> ScreenFacts:
    return ScreenFacts(hash="h", state=state, captured_at=T, **kw)


VERDICTS: list[Any] = [
    # hooks decide busy/idle
    pytest.param(Witnesses(True, BUSY, None, screen("busy")), ("busy", "hook"), id="hook-busy"),
    pytest.param(Witnesses(True, TOOL, "busy", screen("busy")), ("busy", "hook"), id="hook-tool"),
    pytest.param(Witnesses(True, IDLE, "idle", screen("done_idle")), ("idle", "hook"), id="hook-idle"),
    pytest.param(Witnesses(True, FAILED, "idle", screen("api_error")), ("api-error", "hook"), id="stop-failure"),
    pytest.param(Witnesses(True, ASKING, "waiting", screen("dialog", dialog="permission")), ("needs-input", "hook"), id="permission"),
    pytest.param(Witnesses(True, ENDED, None, None), ("exited", "hook"), id="session-end"),
    # the screen refines what hooks cannot see
    pytest.param(Witnesses(True, IDLE, "idle", screen("waiting_until")), ("waiting-until", "screen"), id="waiting-until-refines-idle"),
    pytest.param(Witnesses(True, BUSY, "busy", screen("rate_limited_retrying")), ("retrying", "screen"), id="retry-refines-busy"),
    pytest.param(Witnesses(True, IDLE, "idle", screen("unsubmitted_input", input="half typed")), ("unsubmitted", "screen"),
                 id="typed-text-only-the-screen-sees"),
    pytest.param(Witnesses(True, None, None, screen("dialog", dialog="trust")), ("dialog", "screen"), id="startup-dialog"),
    # Codex fires no hook when a turn dies on an API error: the final error on screen wins
    pytest.param(Witnesses(True, BUSY, None, screen("api_error"), stop_failure=False), ("api-error", "screen"), id="codex-api-error"),
    pytest.param(Witnesses(True, BUSY, None, screen("api_error"), stop_failure=True), ("busy", "hook"), id="claude-would-have-said"),
    # no hooks: the status file, then the screen
    pytest.param(Witnesses(True, None, "busy", screen("done_idle")), ("busy", "status"), id="status-busy"),
    pytest.param(Witnesses(True, None, "waiting", screen("busy")), ("needs-input", "status"), id="status-waiting"),
    pytest.param(Witnesses(True, None, "idle", screen("waiting_until")), ("waiting-until", "screen"), id="status-idle-waiting"),
    pytest.param(Witnesses(True, None, None, screen("busy")), ("busy", "screen"), id="screen-only"),
    # redraws lag the hooks (seen end to end, tests/e2e/test_hooks_truth.py)
    pytest.param(Witnesses(True, SUBMITTED, "idle", screen("unsubmitted_input", input="Hold on.")), ("busy", "hook"),
                 id="accepted-prompt-still-in-the-box"),
    pytest.param(Witnesses(True, SUBMITTED, "idle", replace(screen("unsubmitted_input", input="new text"), captured_at=T + REDRAW_LAG + 1)),
                 ("unsubmitted", "screen"), id="text-typed-after-the-accepted-prompt"),
    pytest.param(Witnesses(True, ASKING, "busy", replace(screen("busy"), captured_at=T + ANSWER_LAG)), ("busy", "hook"),
                 id="permission-answered-tool-running"),
    pytest.param(Witnesses(True, ASKING, "busy", screen("busy")), ("needs-input", "hook"), id="permission-just-asked-screen-lags"),
    pytest.param(Witnesses(True, ASKING, "waiting", replace(screen("busy"), captured_at=T + ANSWER_LAG)), ("needs-input", "hook"),
                 id="permission-still-waiting-says-the-status"),
    pytest.param(Witnesses(True, None, None, None), ("unknown", "none"), id="nothing-known"),
    pytest.param(Witnesses(False, BUSY, "busy", screen("busy")), ("exited", "pane"), id="dead-pane-beats-everything"),
]


@pytest.mark.parametrize("witnesses,expected", VERDICTS)
def test_verdict(witnesses: Witnesses, expected: tuple[str, str]) -> None:
    truth = judge(witnesses, T)
    assert (truth.state, truth.source) == expected


@pytest.mark.parametrize("witnesses,conflict", [
    pytest.param(Witnesses(True, IDLE, None, screen("busy")), "hook says idle, screen says busy", id="hook-idle-screen-busy"),
    pytest.param(Witnesses(True, BUSY, None, screen("done_idle")), "hook says busy, screen says idle", id="hook-busy-screen-idle"),
    pytest.param(Witnesses(True, BUSY, "idle", screen("busy")), "hook says busy, status says idle", id="hook-busy-status-idle"),
    pytest.param(Witnesses(True, None, "idle", screen("busy")), "status says idle, screen says busy", id="status-idle-screen-busy"),
    pytest.param(Witnesses(True, BUSY, "busy", screen("busy")), "", id="agreeing"),
    pytest.param(Witnesses(True, None, None, screen("busy")), "", id="one-witness-cannot-disagree"),
])
def test_conflicts_are_named(witnesses: Witnesses, conflict: str) -> None:
    assert judge(witnesses, T).conflict == conflict


def test_a_conflict_is_reported_once_after_the_grace() -> None:
    w = Witnesses(True, IDLE, None, screen("busy"))
    first = judge(w, T)
    assert first.conflict_since == T and not due_report(first, T)
    later = judge(w, T + CONFLICT_GRACE - 1, first)
    assert later.conflict_since == T and not due_report(later, T + CONFLICT_GRACE - 1)
    due = judge(w, T + CONFLICT_GRACE, later)
    assert due_report(due, T + CONFLICT_GRACE)
    reported = replace(due, conflict_reported=True)
    assert not due_report(judge(w, T + 60, reported), T + 60)  # once per episode
    healed = judge(Witnesses(True, IDLE, None, screen("done_idle")), T + 61, reported)
    assert healed.conflict == "" and healed.conflict_since is None
    again = judge(w, T + 62, healed)
    assert again.conflict_since == T + 62 and not again.conflict_reported  # a new episode


def test_since_carries_over_while_the_state_holds() -> None:
    w = Witnesses(True, BUSY, None, screen("busy"))
    first = judge(w, T)
    assert judge(w, T + 30, first).since == T
    assert judge(Witnesses(True, IDLE, None, screen("done_idle")), T + 31, first).since == T + 31
    assert first.label == "busy·hook" and judge(Witnesses(True, None, None, None), T).label == "unknown"
