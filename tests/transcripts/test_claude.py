"""Claude Code 2.1.197 transcripts as log events (`transcripts.claude`), rendered as log lines.

Fixtures: `tests.support.transcripts` (the formats the CLI writes).
"""

from __future__ import annotations

import json
from pathlib import Path

from agent_orchestrator.transcripts.reader import iter_events
from agent_orchestrator.transcripts.render import render_line
from tests.support.transcripts import (
    CLAUDE_SESSION_LOG,
    GIT_OUT,
    SID,
    c_assistant,
    c_base,
    c_user,
    dumps,
    ts,
    write_claude,
)


def test_claude_transcript_renders_one_line_per_event(tmp_path: Path) -> None:
    path = write_claude(tmp_path / f"{SID}.jsonl", torn='{"type":"assistant","message":{"id":"msg_01D","content":[{"ty')
    events = list(iter_events(path))
    assert [render_line(e) for e in events] == CLAUDE_SESSION_LOG
    assert {e.session for e in events} == {SID} and {e.source for e in events} == {path}
    assert [e.tool for e in events if e.kind in ("tool_call", "tool_result")] == ["Bash", "Bash", "Edit", "Edit", "Grep", "Grep"]
    assert events[3].text == GIT_OUT  # the event keeps the whole output; only the line is cut
    assert not any("secret plan" in e.text or "system-reminder" in e.text for e in events)


def test_repeated_blocks_of_one_response_are_emitted_once(tmp_path: Path) -> None:
    text = {"type": "text", "text": "Looking."}
    tool = {"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "/w/x.md"}}
    lines = [c_assistant(ts(1), "msg_R", text), c_assistant(ts(2), "msg_R", text), c_assistant(ts(2), "msg_R", tool)]
    cumulative = json.loads(lines[2])
    cumulative["message"]["content"] = [text, tool]  # a line repeating the earlier block
    lines.append(dumps(cumulative))
    lines.append(c_assistant(ts(3), "msg_S", text))  # same text in a new response: a new event
    got = [render_line(e) for e in iter_events(write_claude(tmp_path / "s.jsonl", lines))]
    assert got == ["2026-11-22T03:10:01Z asst  Looking.", "2026-11-22T03:10:02Z tool  Read(/w/x.md)",
                   "2026-11-22T03:10:03Z asst  Looking."]  # fmt: skip


def test_claude_system_records_interrupts_and_synthetic_replies(tmp_path: Path) -> None:
    sdk_error = {"status": 529, "headers": {}, "requestID": "req_1",
                 "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}  # fmt: skip
    lines = [
        dumps(c_base("system", ts(1), subtype="api_error", level="error", error=sdk_error, retryInMs=16000, retryAttempt=1, maxRetries=10)),
        c_user(ts(2), [{"type": "text", "text": "[Request interrupted by user]"}]),
        dumps(c_base("assistant", ts(3), message={"id": "m-s", "role": "assistant", "model": "<synthetic>",
                                                  "content": [{"type": "text", "text": "No response requested."}]})),
        dumps(c_base("system", ts(4), subtype="local_command", content="<local-command-stdout>Bye!</local-command-stdout>", level="info")),
        dumps(c_base("system", ts(5), subtype="compact_boundary", content="Conversation compacted", level="info")),
        c_user(ts(6), "This session is being continued from a previous conversation.", isCompactSummary=True),
        c_user(ts(7), [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                       {"type": "text", "text": "what is this?"}]),
    ]
    got = [render_line(e) for e in iter_events(write_claude(tmp_path / "s.jsonl", lines))]
    assert got == [
        "2026-11-22T03:10:01Z error  529 Overloaded (retry 1/10 in 16s)",
        "2026-11-22T03:10:02Z system  [Request interrupted by user]",
        "2026-11-22T03:10:03Z system  No response requested.",
        "2026-11-22T03:10:05Z system  Conversation compacted",
        "2026-11-22T03:10:06Z system  compact summary: This session is being continued from a previous conversation.",
        "2026-11-22T03:10:07Z user  [image] ⏎ what is this?",
    ]
