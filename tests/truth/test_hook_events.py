"""Hook events → HookState, as tables of (events) → state; payloads as the CLIs send them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.truth.hook_events import find_prompt, fold, parse_line, prompt_digest, read_events
from agent_orchestrator.truth.model import HookEvent, HookState, PromptSeen

T = 1_800_000_000.0


def ev(dt: float, name: str, **data: Any) -> HookEvent:
    return HookEvent(T + dt, name, data)


UPS = ev(1, "UserPromptSubmit", session_id="s1", prompt="Build the parser", prompt_id="p-1")
SEEN = PromptSeen(prompt_digest("Build the parser"), "p-1", T + 1)

FOLDS: list[Any] = [
    pytest.param([ev(0, "SessionStart", session_id="s1", source="startup")],
                 HookState(session="s1", turn="idle", turn_since=T, last_event="SessionStart", last_event_at=T), id="start-is-idle"),
    pytest.param([ev(0, "SessionStart", session_id="s1", source="startup"), UPS],
                 HookState(session="s1", turn="busy", turn_since=T + 1, last_event="UserPromptSubmit", last_event_at=T + 1,
                           prompts=(SEEN,)), id="prompt-makes-busy"),
    pytest.param([UPS, ev(2, "PreToolUse", tool_name="Bash")],
                 HookState(turn="busy", turn_since=T + 1, tool="Bash", last_event="PreToolUse", last_event_at=T + 2, prompts=(SEEN,)),
                 id="tool-running"),
    pytest.param([UPS, ev(2, "PreToolUse", tool_name="Bash"), ev(3, "PermissionRequest", tool_name="Bash")],
                 HookState(turn="busy", turn_since=T + 1, tool="Bash", needs_input="permission: Bash", last_event="PermissionRequest",
                           last_event_at=T + 3, prompts=(SEEN,)), id="permission-needs-a-person"),
    pytest.param([UPS, ev(2, "PreToolUse", tool_name="Bash"), ev(3, "PermissionRequest", tool_name="Bash"),
                  ev(9, "Notification", notification_type="permission_prompt", message="Claude needs your permission"),
                  ev(20, "PostToolUse", tool_name="Bash")],
                 HookState(turn="busy", turn_since=T + 1, last_event="PostToolUse", last_event_at=T + 20, prompts=(SEEN,)),
                 id="answered-permission-clears-it"),
    pytest.param([UPS, ev(5, "Stop", last_assistant_message="Done.")],
                 HookState(turn="idle", turn_since=T + 5, last_event="Stop", last_event_at=T + 5, prompts=(SEEN,)), id="stop-ends-the-turn"),
    pytest.param([UPS, ev(5, "StopFailure", error="rate_limit")],
                 HookState(turn="idle", turn_since=T + 5, api_error="rate_limit", last_event="StopFailure", last_event_at=T + 5,
                           prompts=(SEEN,)), id="stop-failure-is-an-api-error"),
    pytest.param([UPS, ev(5, "StopFailure", error="server_error"), replace(UPS, ts=T + 9)],
                 HookState(turn="busy", turn_since=T + 9, last_event="UserPromptSubmit", last_event_at=T + 9,
                           prompts=(SEEN, replace(SEEN, ts=T + 9))), id="a-new-prompt-clears-the-error"),
    pytest.param([UPS, ev(5, "Interrupt")],
                 HookState(turn="idle", turn_since=T + 5, last_event="Interrupt", last_event_at=T + 5, prompts=(SEEN,)), id="codex-interrupt"),
    pytest.param([UPS, ev(5, "Stop"), ev(65, "Notification", notification_type="idle_prompt", message="Claude is waiting for your input")],
                 HookState(turn="idle", turn_since=T + 5, last_event="Notification", last_event_at=T + 65, prompts=(SEEN,)),
                 id="idle-notification-is-not-input"),
    pytest.param([UPS, ev(2, "SessionStart", source="compact", session_id="s1")],
                 HookState(turn="busy", turn_since=T + 1, last_event="SessionStart", last_event_at=T + 2, prompts=(SEEN,)),
                 id="compaction-keeps-the-turn"),
    pytest.param([UPS, ev(5, "Stop"), ev(6, "SessionEnd", reason="prompt_input_exit")],
                 HookState(ended=True, turn_since=T + 6, last_event="SessionEnd", last_event_at=T + 6, prompts=(SEEN,)), id="session-end"),
]


@pytest.mark.parametrize("events,after", FOLDS)
def test_fold(events: list[HookEvent], after: HookState) -> None:
    assert fold(HookState(), events) == after


def test_events_from_before_the_current_start_are_skipped() -> None:
    old = [UPS, ev(5, "Stop")]
    assert fold(HookState(), old, since=T + 3) == HookState(turn="idle", turn_since=T + 5, last_event="Stop", last_event_at=T + 5)


def test_only_the_last_prompts_are_kept() -> None:
    many = [replace(UPS, ts=T + i, data={"prompt": f"p{i}"}) for i in range(30)]
    folded = fold(HookState(), many)
    assert len(folded.prompts) == 20 and folded.prompts[-1].digest == prompt_digest("p29")


@pytest.mark.parametrize("sent,received", [
    ("Build the parser", "Build the parser"),
    ("one\ttwo", "one    two"),  # Claude: a tab becomes 4 spaces
    ("one\r\ntwo", "one\n\ntwo"),  # Claude: CRLF becomes a blank line
    ("line\n" * 5, '\n\n<pasted_content id="1bdd">\n' + "line\n" * 5 + '</pasted_content id="1bdd">\n'),  # 2.1.332 wraps long pastes
    ("a prompt\n", "a prompt"),  # Codex strips the trailing newline
])
def test_prompt_digest_survives_what_the_clis_do_to_a_paste(sent: str, received: str) -> None:
    assert prompt_digest(sent) == prompt_digest(received)
    assert prompt_digest(sent) != prompt_digest(sent + " and more")


def test_recorded_lines_parse_and_garbage_is_skipped() -> None:
    lines = [{"ts": T, "event": "Stop", "data": {"a": 1}}, {"ts": "x", "event": "Stop"}, {"event": "Stop"}, {"ts": T, "event": ""},
             {"ts": True, "event": "Stop"}, {"ts": T + 1, "event": "UserPromptSubmit", "data": {"prompt": "hi"}}]
    events = read_events(lines)
    assert [e.event for e in events] == ["Stop", "UserPromptSubmit"]
    assert parse_line({"ts": T, "event": "Stop", "data": "not a dict"}) == HookEvent(T, "Stop", {})
    assert find_prompt(events, prompt_digest("hi")) == events[1]
    assert find_prompt(events, prompt_digest("other")) is None
