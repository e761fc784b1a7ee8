"""Log events as text lines and JSON objects (`transcripts.render`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from agent_orchestrator.transcripts.events import LogEvent
from agent_orchestrator.transcripts.reader import iter_events
from agent_orchestrator.transcripts.render import event_json, render_line
from tests.support.transcripts import SID, write_claude


def test_render_line_agent_prefix_newlines_and_result_limit() -> None:
    ev = LogEvent(datetime(2026, 11, 22, 3, 10, 5, tzinfo=UTC), "tool_result", "a\n\nb\nc\nd", "Bash", "s", Path("f"))
    assert render_line(ev, agent="builder", max_result_lines=1) == "[builder] 2026-11-22T03:10:05Z result  a (+3 more lines)"
    assert render_line(ev, max_result_lines=5) == "2026-11-22T03:10:05Z result  a ⏎ b ⏎ c ⏎ d"
    empty = LogEvent(None, "tool_result", "", "Bash", "s", Path("f"))
    assert render_line(empty) == "- result  (no output)"
    long = LogEvent(None, "tool_result", "x" * 1000, "Bash", "s", Path("f"))
    assert len(render_line(long)) < 320


def test_event_json_shape(tmp_path: Path) -> None:
    ev = list(iter_events(write_claude(tmp_path / f"{SID}.jsonl")))[2]
    assert event_json(ev) == {"ts": "2026-11-22T03:10:04.123Z", "kind": "tool_call", "text": "git commit -m 'claim(D1)'",
                              "tool": "Bash", "session": SID, "source": str(tmp_path / f"{SID}.jsonl")}  # fmt: skip
    json.dumps(event_json(ev))


def test_long_prompts_and_commands_are_cut_in_text_but_whole_in_json(tmp_path: Path) -> None:
    kickoff = "# Phase p1\n" + "x" * 5000
    event = LogEvent(None, "user", kickoff, None, "s", tmp_path / "t.jsonl")
    line = render_line(event)
    assert len(line) < 500 and line.endswith("…")
    assert event_json(event)["text"] == kickoff
