"""Codex rollouts as log events; checked against Codex CLI 0.169.0.

Codex rollouts (``rollout-<ts>-<id>.jsonl``, lines ``{timestamp, type, payload}``):
``session_meta``, ``response_item`` (``message``, ``function_call``, ``function_call_output``,
custom / local-shell / web-search calls) and ``event_msg`` errors and aborts. Record knowledge
shared with the token scanner (``session_meta``, the rollout id) lives in `transcripts.records`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_orchestrator.transcripts.events import EventParser, LogEvent, clean, compact_input, content_text, parse_ts
from agent_orchestrator.transcripts.records import codex_session_meta, rollout_id

# Codex sends its context (environment, AGENTS.md, skills, aborted-turn notes) as role-"user"
# messages wrapped in one snake_case tag; a typed prompt practically never is.
_CODEX_CONTEXT = re.compile(r"^\s*(<[a-z]+(?:_[a-z]+)+\b[^>]*>|# AGENTS\.md instructions)")
# Codex's exec_command output starts with a bookkeeping header before "Output:".
_CODEX_EXIT = re.compile(r"^(?:Process exited with code|Exit code:?)\s*(-?\d+)", re.MULTILINE)


class CodexParser(EventParser):
    """Codex CLI 0.169.0 rollout lines → events.

    The conversation is taken from ``response_item`` only. ``event_msg`` user_message /
    agent_message (and 0.169's ``item_completed`` UserMessage / AgentMessage) repeat the same text,
    while tool calls and their outputs exist only as response items; one source cannot double a
    line, and it is what the model saw and what a resume replays. ``event_msg`` adds only what
    response items lack: errors and aborted turns. ``session`` starts as the id in the file name
    (else the stem) and becomes the ``session_meta`` id.
    """

    def __init__(self, source: Path) -> None:
        super().__init__(source, rollout_id(source.stem) or source.stem)

    def feed(self, rec: dict[str, Any]) -> list[LogEvent]:
        """The events of one decoded rollout line (none for bookkeeping lines)."""
        payload, ts = rec.get("payload"), parse_ts(rec.get("timestamp"))
        if not isinstance(payload, dict):
            return []
        rtype, ptype = rec.get("type"), payload.get("type")
        if rtype == "session_meta":
            meta = codex_session_meta(rec)
            if meta is not None and meta.id:
                self.session = meta.id
            return []
        if rtype == "compacted" or (rtype == "event_msg" and ptype == "context_compacted"):
            return [self._event(ts, "system", "context compacted")]
        if rtype == "event_msg" and ptype == "error":
            return [self._event(ts, "api_error", clean(str(payload.get("message") or "error")))]
        if rtype == "event_msg" and ptype == "turn_aborted":
            return [self._event(ts, "system", f"turn aborted: {payload.get('reason') or '?'}")]
        if rtype != "response_item":
            return []
        if ptype == "message":
            role, text = payload.get("role"), clean(content_text(payload.get("content")))
            if role == "assistant" and text:
                return [self._event(ts, "assistant", text)]
            if role == "user" and text and not _CODEX_CONTEXT.match(text):
                return [self._event(ts, "user", text)]
            return []  # developer / system instructions, injected context
        if ptype in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
            return [self._call(ts, ptype, payload)]
        if ptype in ("function_call_output", "custom_tool_call_output"):
            name = self.tools.get(str(payload.get("call_id")))
            return [self._event(ts, "tool_result", codex_output(payload.get("output")), name)]
        return []  # reasoning, ghost snapshots, ...

    def _call(self, ts: datetime | None, ptype: str, payload: dict[str, Any]) -> LogEvent:
        name = str(payload.get("name") or ptype.removesuffix("_call"))
        args = payload.get({"function_call": "arguments", "custom_tool_call": "input"}.get(ptype, "action"))
        if ptype == "function_call" and isinstance(args, str):  # arguments are a JSON string
            try:
                args = json.loads(args)
            except ValueError:
                pass
        if ptype == "web_search_call" and isinstance(args, dict):
            args = args.get("query", args)
        self.tools[str(payload.get("call_id") or payload.get("id"))] = name
        return self._event(ts, "tool_call", compact_input(name, args), name)


def codex_output(output: Any) -> str:
    """A function-call output as text, without exec_command's bookkeeping header.

    The output is a string (for apply_patch a JSON ``{"output", "metadata": {"exit_code"}}``),
    ``{"content", "success"}`` or a list of content items; the header (``Chunk ID`` / ``Wall
    time`` / ``Process exited with code N`` / ``Output:``) becomes ``[exit N]`` when N is not 0,
    and a failed call (``success: false``) is marked ``[error]``.
    """
    if isinstance(output, str) and output.startswith("{"):
        try:
            output = json.loads(output)
        except ValueError:
            pass
    failed, code = False, None
    if isinstance(output, dict):
        failed = output.get("success") is False
        meta = output.get("metadata")
        code = meta.get("exit_code") if isinstance(meta, dict) else None
        output = output.get("content", output.get("output", ""))
    text = content_text(output) if not isinstance(output, str) else output
    head, sep, body = text.partition("Output:\n")
    if sep and len(head) < 400 and ("Wall time" in head or "Exit code" in head):
        m = _CODEX_EXIT.search(head)
        text, code = body if body.strip() else "(no output)", int(m.group(1)) if m else code
    text = clean(text)
    text = f"[exit {code}] {text}" if code not in (None, 0) else text
    return f"[error] {text}" if failed else text
