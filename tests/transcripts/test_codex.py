"""Codex CLI 0.169.0 rollouts as log events (`transcripts.codex`), rendered as log lines.

Fixtures: `tests.support.transcripts` (the formats the CLI writes).
"""

from __future__ import annotations

from pathlib import Path

from agent_orchestrator.transcripts.reader import iter_events
from agent_orchestrator.transcripts.render import render_line
from tests.support.transcripts import CODEX_ID, CODEX_ROLLOUT_LOG, dumps, ts, write_codex, x_line


def test_codex_rollout_uses_response_items_once(tmp_path: Path) -> None:
    path = write_codex(tmp_path / "sessions", "/work/app")
    events = list(iter_events(path))
    assert [render_line(e) for e in events] == CODEX_ROLLOUT_LOG
    assert {e.session for e in events} == {CODEX_ID}
    assert events[2].tool == "exec_command"


def test_codex_tool_shapes(tmp_path: Path) -> None:
    patch = "*** Begin Patch\n*** Update File: src/a.py\n@@\n-x\n+y\n*** Add File: b.md\n+hi\n*** End Patch\n"
    lines = [
        x_line(ts(1), "response_item", {"type": "custom_tool_call", "status": "completed", "call_id": "c1", "name": "apply_patch", "input": patch}),
        x_line(ts(2), "response_item", {"type": "custom_tool_call_output", "call_id": "c1", "output": dumps({"output": "Success. Updated the following files:\nM src/a.py\nA b.md\n", "metadata": {"exit_code": 0}})}),
        x_line(ts(3), "response_item", {"type": "function_call", "name": "shell", "call_id": "c2", "arguments": dumps({"command": ["bash", "-lc", "ls -la"], "workdir": "/w"})}),
        x_line(ts(4), "response_item", {"type": "function_call_output", "call_id": "c2", "output": {"content": "permission denied", "success": False}}),
        x_line(ts(5), "response_item", {"type": "function_call", "name": "exec_command", "call_id": "c3", "arguments": dumps({"cmd": "true"})}),
        x_line(ts(6), "response_item", {"type": "function_call_output", "call_id": "c3", "output": "Chunk ID: a\nWall time: 0.0 seconds\nProcess exited with code 0\nOutput:\n"}),
        x_line(ts(7), "event_msg", {"type": "turn_aborted", "reason": "interrupted"}),
    ]
    path = tmp_path / f"rollout-2026-11-22T03-10-00-{CODEX_ID}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    events = list(iter_events(path))
    assert [render_line(e) for e in events] == [
        "2026-11-22T03:10:01Z tool  apply_patch(src/a.py, b.md)",
        "2026-11-22T03:10:02Z result  Success. Updated the following files: ⏎ M src/a.py ⏎ A b.md",
        "2026-11-22T03:10:03Z tool  shell(ls -la)",
        "2026-11-22T03:10:04Z result  [error] permission denied",
        "2026-11-22T03:10:05Z tool  exec_command(true)",
        "2026-11-22T03:10:06Z result  (no output)",
        "2026-11-22T03:10:07Z system  turn aborted: interrupted",
    ]
    assert [e.tool for e in events if e.kind == "tool_result"] == ["apply_patch", "shell", "exec_command"]
