"""Claude Code transcripts as log events; checked against Claude Code 2.1.197.

Claude Code JSONL (``~/.claude/projects/<slug>/<sessionId>.jsonl``): ``user`` records (a prompt,
or ``tool_result`` blocks with ``toolUseResult``), ``assistant`` records (one line per content
block; the lines of one API response share ``message.id``), API errors (``assistant`` with
``isApiErrorMessage`` / model ``<synthetic>`` and ``apiErrorStatus``), ``system`` records
(``api_error`` retries, ``compact_boundary``, ``turn_duration``, ``local_command``). Record
knowledge shared with the token scanner lives in `transcripts.records`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_orchestrator.transcripts.events import (
    INPUT_CHARS,
    EventKind,
    EventParser,
    LogEvent,
    clean,
    compact_input,
    content_text,
    cut,
    parse_ts,
)
from agent_orchestrator.transcripts.records import claude_session_id, is_claude_api_error, is_claude_synthetic

_MAX_KEYS = 4096  # Claude blocks already emitted; a response's lines are adjacent, so few suffice


class ClaudeParser(EventParser):
    """Claude Code 2.1.197 records → events; remembers the blocks already emitted.

    ``session`` starts as the file stem and becomes the records' ``sessionId``.
    """

    def __init__(self, source: Path) -> None:
        super().__init__(source, source.stem)
        self.seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def feed(self, rec: dict[str, Any]) -> list[LogEvent]:
        """The events of one decoded Claude record (none for bookkeeping records)."""
        sid = claude_session_id(rec)
        if sid:
            self.session = sid
        kind, ts = rec.get("type"), parse_ts(rec.get("timestamp"))
        # attachment, file-history-snapshot, queue-operation, last-prompt, mode, ... carry no turn
        if kind == "user":
            return self._user(rec, ts)
        if kind == "assistant":
            return self._assistant(rec, ts)
        if kind == "system":
            return self._system(rec, ts)
        return []

    def _user(self, rec: dict[str, Any], ts: datetime | None) -> list[LogEvent]:
        msg = rec.get("message")
        # isMeta: caveats and expanded skill/command bodies Claude adds; not typed by anyone.
        if not isinstance(msg, dict) or rec.get("isMeta") is True:
            return []
        if rec.get("isCompactSummary") is True:
            text = clean(content_text(msg.get("content")))
            return [self._event(ts, "system", f"compact summary: {text}")] if text else []
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [content]
        out: list[LogEvent] = []
        prompt: list[str] = []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                text = clean(content_text(block.get("content")))
                if block.get("is_error") is True:
                    text = f"[error] {text}"
                out.append(self._event(ts, "tool_result", text, self.tools.get(str(block.get("tool_use_id")))))
            else:
                prompt.append(content_text([block]))
        text = clean("\n".join(prompt))
        if text:
            # Claude records an Esc/Ctrl-C as a user turn; nobody typed it.
            kind: EventKind = "system" if text.startswith("[Request interrupted by user") else "user"
            out.insert(0, self._event(ts, kind, text))
        return out

    def _assistant(self, rec: dict[str, Any], ts: datetime | None) -> list[LogEvent]:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return []
        content = msg.get("content")
        if is_claude_synthetic(rec, msg):
            text = clean(content_text(content))
            if not is_claude_api_error(rec):
                # Synthetic but not an error: "No response requested." and similar stand-ins.
                return [self._event(ts, "system", text)] if text else []
            head = " ".join(str(p) for p in (rec.get("apiErrorStatus"), rec.get("error")) if p not in (None, ""))
            return [self._event(ts, "api_error", f"{head}: {text}" if head else text)]
        mid = str(msg.get("id") or rec.get("uuid") or "")
        out: list[LogEvent] = []
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text":
                text = clean(str(block.get("text") or ""))
                key = (mid, "text:" + text)
                if text and self._first(key):
                    out.append(self._event(ts, "assistant", text))
            elif btype in ("tool_use", "server_tool_use"):
                name = str(block.get("name") or "?")
                bid = str(block.get("id") or "")
                self.tools[bid] = name
                if self._first((mid, "tool:" + bid)):
                    out.append(self._event(ts, "tool_call", compact_input(name, block.get("input")), name))
            # thinking / redacted_thinking: private reasoning, not part of the log
        return out

    def _first(self, key: tuple[str, str]) -> bool:
        """True the first time a block is seen (a response's lines may repeat earlier blocks)."""
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > _MAX_KEYS:
            self.seen.popitem(last=False)
        return True

    def _system(self, rec: dict[str, Any], ts: datetime | None) -> list[LogEvent]:
        sub = rec.get("subtype")
        if sub == "api_error":
            err = rec.get("error")
            if not isinstance(err, dict):
                err = {}
            status, detail, body = err.get("status") or "", err.get("message"), err.get("error")
            while not detail and isinstance(body, dict):  # the SDK error's body: {error: {message}}
                detail, body = body.get("message"), body.get("error")
            detail = detail or json.dumps(err, separators=(",", ":"))
            wait = rec.get("retryInMs")
            retry = f"retry {rec.get('retryAttempt')}/{rec.get('maxRetries')}"
            retry += f" in {wait / 1000:.0f}s" if isinstance(wait, int | float) else ""
            return [self._event(ts, "api_error", f"{status} {cut(str(detail), INPUT_CHARS)} ({retry})".strip())]
        if sub == "turn_duration":
            ms = rec.get("durationMs")
            return [self._event(ts, "system", f"turn done in {ms / 1000:.1f}s")] if isinstance(ms, int | float) else []
        if sub == "local_command":  # output of a /command typed in the TUI: envelope noise
            return []
        text = clean(str(rec.get("content") or ""))
        return [self._event(ts, "system", text)] if text else []
