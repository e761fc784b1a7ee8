"""Transcript lines in the formats the agent CLIs write, for tests of readers and the ledger.

Claude Code 2.1.197 assistant records (compact JSON, as the CLI writes them).
"""

from __future__ import annotations

import json

TS = "2026-11-22T03:24:00.000Z"


def dumps(rec: dict) -> str:
    """Compact JSON, as JSON.stringify / serde write it (no spaces)."""
    return json.dumps(rec, separators=(",", ":"))


def claude_assistant(
    mid: str | None,
    rid: str | None,
    *,
    out: int,
    inp: int = 3,
    read: int = 0,
    write: int = 0,
    session: str = "sess-a",
    block: dict | None = None,
) -> str:
    usage = {
        "input_tokens": inp, "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": out, "service_tier": "standard",
    }  # fmt: skip
    message = {
        "model": "claude-sonnet-4-5-20250929", "id": mid, "type": "message", "role": "assistant",
        "content": [block or {"type": "text", "text": "Working on it."}],
        "stop_reason": None, "stop_sequence": None, "usage": usage,
    }  # fmt: skip
    if mid is None:
        del message["id"]
    rec = {
        "parentUuid": "u-1", "isSidechain": False, "userType": "external", "cwd": "/work/app",
        "sessionId": session, "version": "2.1.197", "gitBranch": "main", "message": message,
        "requestId": rid, "type": "assistant", "uuid": f"a-{mid}-{out}", "timestamp": TS,
    }  # fmt: skip
    if rid is None:
        del rec["requestId"]
    return dumps(rec)
