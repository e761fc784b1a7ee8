"""What Claude Code 2.1.197 / Codex 0.169.0 records mean (`transcripts.records`).

Fixtures: `tests.support.transcripts` (the formats the CLIs write).
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

from agent_orchestrator.transcripts import records
from agent_orchestrator.transcripts.records import (
    SessionMeta,
    claude_session_id,
    claude_usage_key,
    codex_session_meta,
    codex_total_tokens,
    detect_kind,
    is_claude_api_error,
    is_claude_synthetic,
    rollout_id,
)
from tests.support.transcripts import CLAUDE_SESSION_LINES, CODEX_ID, SID, c_base, claude_assistant, codex_lines, ts


def lines(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_detect_kind(tmp_path: Path) -> None:
    assert detect_kind(lines(tmp_path / "a.jsonl", CLAUDE_SESSION_LINES)) == "claude"
    assert detect_kind(lines(tmp_path / "b.jsonl", codex_lines("/w"))) == "codex"
    assert detect_kind(lines(tmp_path / "rollout-c.jsonl", [])) == "codex"  # by name
    assert detect_kind(lines(tmp_path / "d.jsonl", [])) is None
    assert detect_kind(lines(tmp_path / "e.jsonl", ['{"hello": 1}', "[1, 2]", "not json"])) is None


def test_detect_kind_looks_past_a_first_peek_only_when_it_must(tmp_path: Path) -> None:
    claude = CLAUDE_SESSION_LINES[0]
    pad = '{"pad":"' + "x" * 45_000 + '"}'  # valid JSON that names no kind
    # the first 64 KiB end inside the deciding line: it is read whole from the first 1 MiB
    assert detect_kind(lines(tmp_path / "a.jsonl", [pad, '{"type":"user","pad":"' + "y" * 60_000 + '"}'])) == "claude"
    # a first line longer than 64 KiB that decides
    assert detect_kind(lines(tmp_path / "b.jsonl", ['{"sessionId":"s","pad":"' + "z" * 100_000 + '"}'])) == "claude"
    # only the first 32 lines count, however short, and only the first 1 MiB
    assert detect_kind(lines(tmp_path / "c.jsonl", ['{"n":1}'] * 32 + [claude])) is None
    assert detect_kind(lines(tmp_path / "d.jsonl", ['{"n":1}'] * 31 + [claude])) == "claude"
    assert detect_kind(lines(tmp_path / "e.jsonl", [pad] * 24 + [claude])) is None  # starts past 1 MiB
    assert detect_kind(lines(tmp_path / "f.jsonl", [pad] * 23 + [claude])) == "claude"


def test_claude_api_errors_and_stand_ins_are_synthetic() -> None:
    error = c_base("assistant", ts(1), isApiErrorMessage=True, apiErrorStatus=529,
                   message={"id": "m", "model": "<synthetic>", "content": []})  # fmt: skip
    stand_in = c_base("assistant", ts(2), message={"id": "m", "model": "<synthetic>", "content": []})
    real = json.loads(claude_assistant("msg_A", "req_A", out=5))
    assert is_claude_synthetic(error, error["message"]) and is_claude_api_error(error)
    assert is_claude_synthetic(stand_in, stand_in["message"]) and not is_claude_api_error(stand_in)
    assert not is_claude_synthetic(real, real["message"])
    status_only = {**stand_in, "apiErrorStatus": 429}
    assert is_claude_api_error(status_only)


def test_claude_usage_key_and_session_id() -> None:
    full = json.loads(claude_assistant("msg_A", "req_A", out=5))
    no_request = json.loads(claude_assistant("msg_A", None, out=5))
    no_id = json.loads(claude_assistant(None, None, out=5))
    assert claude_usage_key(full, full["message"]) == "msg_A:req_A"
    assert claude_usage_key(no_request, no_request["message"]) == "msg_A"
    assert claude_usage_key(no_id, no_id["message"]) is None
    assert claude_session_id(full) == "sess-a"
    assert claude_session_id({"sessionId": ""}) is None and claude_session_id({"sessionId": 7}) is None
    assert claude_session_id(c_base("user", ts(1))) == SID


def test_codex_session_meta() -> None:
    first = json.loads(codex_lines("/work/app")[0])
    assert codex_session_meta(first) == SessionMeta(id=CODEX_ID, cwd="/work/app", forked_from_id=None)
    fork = {"type": "session_meta", "payload": {"id": "", "cwd": 3, "forked_from_id": CODEX_ID}}
    assert codex_session_meta(fork) == SessionMeta(id=None, cwd=None, forked_from_id=CODEX_ID)
    assert codex_session_meta({"type": "turn_context", "payload": {"cwd": "/w"}}) is None
    assert codex_session_meta({"type": "session_meta", "payload": None}) is None


def test_codex_total_tokens() -> None:
    total = {"input_tokens": 10, "cached_input_tokens": 4, "output_tokens": 2, "total_tokens": 12}
    row = {"type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": total}}}
    assert codex_total_tokens(row) == total
    assert codex_total_tokens({"type": "event_msg", "payload": {"type": "token_count", "info": None}}) is None
    assert codex_total_tokens({"type": "event_msg", "payload": {"type": "agent_message"}}) is None
    assert codex_total_tokens({"type": "response_item", "payload": {"type": "token_count"}}) is None


def test_rollout_id() -> None:
    assert rollout_id(f"rollout-2026-11-22T03-24-00-{CODEX_ID}") == CODEX_ID
    assert rollout_id(f"rollout-2026-11-22T03-24-00-{CODEX_ID.upper()}") == CODEX_ID.upper()
    assert rollout_id("rollout-x") is None
    assert doctest.testmod(records).failed == 0
