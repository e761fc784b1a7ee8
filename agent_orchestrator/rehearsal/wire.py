"""Pieces both wire formats share: SSE events, ids, text chunking, structured-output stubs."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

_B62 = string.ascii_letters + string.digits
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
_CODEX_ENVELOPE = re.compile(
    r"<(environment_context|user_instructions|user_shell_command|turn_aborted)>.*?</\1>"
    r"|# AGENTS\.md instructions for [^\n]*\n+<INSTRUCTIONS>.*?</INSTRUCTIONS>", re.S)


@dataclass(frozen=True)
class Event:
    """One SSE event; ``pause`` is how long to wait before sending it (seconds)."""

    name: str
    data: dict[str, Any]
    pause: float = 0.0

    def encode(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data)}\n\n".encode()


def new_id(prefix: str, length: int = 24) -> str:
    """A random id shaped like the API's own (``toolu_01…``, ``msg_01…``, ``call_…``)."""
    return prefix + "".join(secrets.choice(_B62) for _ in range(length))


def strip_envelopes(text: str) -> str:
    """Drop harness-injected envelopes (Claude ``<system-reminder>``, Codex
    ``<environment_context>`` …) so rules match what a person typed, not e.g. a CLAUDE.md."""
    return _CODEX_ENVELOPE.sub("", _REMINDER.sub("", text)).strip()


def chunks(text: str, size: int = 24) -> list[str]:
    """Split ``text`` into delta-sized pieces at word boundaries; joined they equal ``text``."""
    out: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        if current and len(current) + len(word) > size:
            out.append(current)
            current = ""
        current += word
    if current:
        out.append(current)
    return out


def structured_text(body: dict[str, Any], text: str) -> str:
    """If the request asks for JSON output (Claude's title request sends
    ``output_config.format = {type: json_schema, schema}`` — seen with 2.1.197; OpenAI uses
    ``text.format``), return a JSON object that satisfies the schema, filling strings with
    ``text``; otherwise ``text`` unchanged."""
    fmt = (body.get("output_config") or {}).get("format") or (body.get("text") or {}).get("format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return text
    try:
        json.loads(text)
        return text  # the playbook already scripted JSON
    except ValueError:
        pass
    return json.dumps(_stub(fmt.get("schema") or {}, text))


def _stub(schema: dict[str, Any], text: str) -> Any:
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: _stub(v, text) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if schema.get("enum"):
        return schema["enum"][0]
    return text


def estimate_tokens(payload: Any) -> int:
    """A plausible token count for a request payload: ~4 characters per token."""
    return max(1, len(json.dumps(payload, ensure_ascii=False)) // 4)
