"""What the records of Claude Code and Codex transcripts mean: one place for format knowledge.

Checked against Claude Code 2.1.197 and Codex CLI 0.169.0. Used by the log parsers
(`transcripts.claude`, `transcripts.codex`), transcript discovery and the token scanner
(`tokens.scanner`); a CLI version that changes a record shape is fixed here once.

Claude Code (``~/.claude/projects/<slug>/<sessionId>.jsonl``): one JSON object per line with a
``type`` (``user``, ``assistant``, ``system``, …) and a ``sessionId``. One API response is
several ``assistant`` lines (one per content block) sharing ``message.id`` and ``requestId``;
``message.usage`` holds its token counts. API errors are ``assistant`` records with
``isApiErrorMessage: true`` and model ``<synthetic>``; stand-in replies ("No response
requested.") have model ``<synthetic>`` too.

Codex (``rollout-<ts>-<id>.jsonl``): lines ``{"timestamp", "type", "payload"}``. The first is
``session_meta`` (``id``, ``cwd``, for a fork ``forked_from_id``); ``event_msg`` /
``token_count`` lines carry the cumulative ``info.total_token_usage`` (``info`` may be null).

Functions take decoded records (dicts) and never raise on odd values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Claude record types (a file with one of these in its first lines is a Claude transcript).
CLAUDE_TYPES = frozenset(
    {"user", "assistant", "attachment", "system", "summary", "file-history-snapshot",
     "mode", "permission-mode", "queue-operation", "last-prompt"}
)  # fmt: skip
#: The model name Claude Code gives the records it made up itself (API errors, stand-ins).
CLAUDE_SYNTHETIC_MODEL = "<synthetic>"

# Byte markers every record of a kind contains, for filtering raw lines before parsing them
# (compact JSON, as both CLIs write it).
#: A Claude line that can carry billed tokens has both of these.
CLAUDE_USAGE_MARKER = b'"usage"'
CLAUDE_ASSISTANT_MARKER = b'"assistant"'
#: A Codex ``token_count`` / ``session_meta`` line.
CODEX_TOKEN_COUNT_MARKER = b'"token_count"'
CODEX_SESSION_META_MARKER = b'"session_meta"'

#: The session id at the end of a Codex rollout's file stem (``rollout-<ts>-<uuid>``).
ROLLOUT_ID = re.compile(r"([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$")

_HEAD_BYTES = 1 << 20
_HEAD_LINES = 32
#: `detect_kind` first looks at this much: the first line nearly always decides.
_PEEK_BYTES = 64 << 10


def detect_kind(path: Path | str) -> str | None:
    """``"claude"``, ``"codex"`` or None, from the file name and its first records.

    A ``rollout-*`` file is Codex. Otherwise the first 32 lines of the first 1 MiB decide: Codex
    lines are ``{"timestamp", "type", "payload"}``; Claude records carry ``sessionId`` or one of
    `CLAUDE_TYPES`. None for an unrecognised or empty file. Raises OSError if it cannot be read.
    """
    path = Path(path)
    if path.name.startswith("rollout-"):
        return "codex"
    with open(path, "rb") as f:
        head = f.read(_PEEK_BYTES)
        if len(head) == _PEEK_BYTES:
            # the complete lines of the first 64 KiB are the first lines of the first 1 MiB too:
            # one of them decides as it would there; else look at the whole 1 MiB
            whole = head.split(b"\n", _HEAD_LINES)[:-1]
            kind = _kind_of_lines(whole[:_HEAD_LINES])
            if kind is not None:
                return kind
            head += f.read(_HEAD_BYTES - _PEEK_BYTES)
    return _kind_of_lines(head.split(b"\n", _HEAD_LINES)[:_HEAD_LINES])


def _kind_of_lines(lines: list[bytes]) -> str | None:
    """The kind the first deciding line of ``lines`` names, else None."""
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if "payload" in rec and "timestamp" in rec:
            return "codex"
        if "sessionId" in rec or rec.get("type") in CLAUDE_TYPES:
            return "claude"
    return None


def record_time(rec: dict[str, Any]) -> float | None:
    """When a transcript record was written: its top-level ``timestamp``, as epoch seconds.

    Both CLIs stamp every record with an ISO-8601 UTC time with milliseconds
    (``2026-12-06T20:45:39.705Z``): Claude Code 2.1.197 and 2.1.332 on ``user``/``assistant``
    (and most other) records, Codex CLI 0.169.0 and 0.171.0 on every rollout line. A time without
    an offset is taken as UTC. None when the record has no such field (e.g. Claude's
    ``last-prompt`` lines) or it is not a time.

    >>> record_time({"timestamp": "2026-12-06T20:45:39.705Z"})
    1796589939.705
    >>> record_time({"type": "last-prompt"}) is None
    True
    """
    value = rec.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()


# -- Claude Code ---------------------------------------------------------------------------------


def claude_session_id(rec: dict[str, Any]) -> str | None:
    """A Claude record's ``sessionId`` (a non-empty string), else None."""
    sid = rec.get("sessionId")
    return sid if isinstance(sid, str) and sid else None


def is_claude_synthetic(rec: dict[str, Any], message: dict[str, Any]) -> bool:
    """True for an ``assistant`` record no API response produced: no tokens were billed.

    That is an API error (``isApiErrorMessage: true``) or a stand-in reply (model
    ``<synthetic>``); `is_claude_api_error` tells the two apart. ``message`` is
    ``rec["message"]``.
    """
    return rec.get("isApiErrorMessage") is True or message.get("model") == CLAUDE_SYNTHETIC_MODEL


def is_claude_api_error(rec: dict[str, Any]) -> bool:
    """True when a synthetic ``assistant`` record reports a failed API call.

    ``isApiErrorMessage: true`` or an ``apiErrorStatus`` (the HTTP status); a synthetic record
    with neither is a stand-in reply such as "No response requested.".
    """
    return rec.get("isApiErrorMessage") is True or rec.get("apiErrorStatus") is not None


def claude_usage_key(rec: dict[str, Any], message: dict[str, Any]) -> str | None:
    """The key that de-duplicates the lines of one Claude API response: ``message.id:requestId``.

    ``message.id`` alone when the record has no ``requestId``; None without a ``message.id``
    (such lines cannot be recognised again, so each counts). ``message`` is ``rec["message"]``.
    """
    mid, rid = message.get("id"), rec.get("requestId")
    if not isinstance(mid, str) or not mid:
        return None
    return f"{mid}:{rid}" if isinstance(rid, str) and rid else mid


# -- Codex ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionMeta:
    """A Codex ``session_meta`` payload: ``id`` (a non-empty string or None), ``cwd`` (the
    session's working directory) and ``forked_from_id`` (the parent session of a fork); each
    None when absent or not a string."""

    id: str | None
    cwd: str | None
    forked_from_id: str | None


def codex_session_meta(rec: dict[str, Any]) -> SessionMeta | None:
    """The `SessionMeta` of a Codex ``session_meta`` record, else None (other records)."""
    payload = rec.get("payload") if rec.get("type") == "session_meta" else None
    if not isinstance(payload, dict):
        return None
    sid, cwd, parent = payload.get("id"), payload.get("cwd"), payload.get("forked_from_id")
    return SessionMeta(id=sid if isinstance(sid, str) and sid else None,
                       cwd=cwd if isinstance(cwd, str) else None,
                       forked_from_id=parent if isinstance(parent, str) else None)  # fmt: skip


def codex_total_tokens(rec: dict[str, Any]) -> Any:
    """The raw cumulative ``info.total_token_usage`` of an ``event_msg`` / ``token_count`` record.

    None for other records and for ``info: null`` (rate-limit-only updates). The value is the
    decoded JSON object (token counts by Codex's field names; `tokens.usage.codex_usage` maps it
    to buckets), not checked here.
    """
    if rec.get("type") != "event_msg":
        return None
    payload = rec.get("payload")
    if not isinstance(payload, dict) or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    return info.get("total_token_usage") if isinstance(info, dict) else None


#: Codex ``response_item`` payload types the model produced (0.169.0, 0.171.0): a reply, a
#: tool call, reasoning. Codex writes a response's ``token_count`` only after the tool it called
#: has run, so the tokens are dated by the last of these before it (`tokens.scanner`).
CODEX_MODEL_OUTPUTS = frozenset({"message", "function_call", "custom_tool_call", "local_shell_call", "web_search_call", "reasoning"})
_CODEX_CALLS = {"function_call": "arguments", "custom_tool_call": "input", "local_shell_call": "action"}
_CODEX_RESULTS = frozenset({"function_call_output", "custom_tool_call_output"})


def is_codex_model_output(rec: dict[str, Any]) -> bool:
    """True for a Codex ``response_item`` the model wrote (`CODEX_MODEL_OUTPUTS`; a ``message``
    only with role ``assistant``)."""
    payload = rec.get("payload") if rec.get("type") == "response_item" else None
    if not isinstance(payload, dict) or payload.get("type") not in CODEX_MODEL_OUTPUTS:
        return False
    return payload.get("type") != "message" or payload.get("role") == "assistant"


def tool_calls(rec: dict[str, Any]) -> list[tuple[str, str]]:
    """The tool calls a record makes, as (call id, the call's input as JSON text).

    Claude Code (2.1.197, 2.1.332): ``tool_use`` blocks of an ``assistant`` record (``id``,
    ``input``). Codex (0.169.0, 0.171.0): a ``response_item`` ``function_call`` (``call_id``,
    ``arguments``, itself a JSON string), ``custom_tool_call`` (``input``) or
    ``local_shell_call`` (``action``). Empty for other records.
    """
    out: list[tuple[str, str]] = []
    if rec.get("type") == "assistant":
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        out.extend((block["id"], json.dumps(block.get("input"), ensure_ascii=False))
                   for block in (content if isinstance(content, list) else ())
                   if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("id"), str))
    elif rec.get("type") == "response_item":
        payload = rec.get("payload")
        field = _CODEX_CALLS.get(str(payload.get("type"))) if isinstance(payload, dict) else None
        if field is not None and isinstance(payload, dict) and isinstance(payload.get("call_id"), str):
            value = payload.get(field)
            out.append((payload["call_id"], value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
    return out


def tool_results(rec: dict[str, Any]) -> list[str]:
    """The ids of the tool calls a record answers: the ``tool_use_id`` of each ``tool_result``
    block of a Claude ``user`` record; the ``call_id`` of a Codex ``function_call_output`` /
    ``custom_tool_call_output``. Empty for other records."""
    if rec.get("type") == "user":
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return [b["tool_use_id"] for b in (content if isinstance(content, list) else ())
                if isinstance(b, dict) and b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str)]
    payload = rec.get("payload") if rec.get("type") == "response_item" else None
    if isinstance(payload, dict) and payload.get("type") in _CODEX_RESULTS and isinstance(payload.get("call_id"), str):
        return [payload["call_id"]]
    return []


def rollout_id(stem: str) -> str | None:
    """The session id (a UUID) at the end of a rollout file stem, else None.

    >>> rollout_id("rollout-2026-11-22T03-24-00-01a20158-5f78-7373-859a-060abfbe48ef")
    '01a20158-5f78-7373-859a-060abfbe48ef'
    """
    m = ROLLOUT_ID.search(stem)
    return m.group(1) if m else None
