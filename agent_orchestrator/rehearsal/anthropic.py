"""The Anthropic Messages API as Claude Code uses it: request → ``Exchange``, ``Answer`` → SSE
events or a JSON message. Pure.

Checked against Claude Code 2.1.197 (``POST /v1/messages?beta=true``, always ``stream: true``;
``messages`` may hold ``role: "system"`` entries; the prompt arrives as text blocks after
``<system-reminder>`` blocks; tool results come back as ``tool_result`` blocks in a user message).
"""

from __future__ import annotations

import json
from typing import Any

from agent_orchestrator.tokens.usage import Usage

from .playbook import Answer, Exchange, ToolResult
from .wire import Event, chunks, estimate_tokens, new_id, strip_envelopes, structured_text

_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 529: "overloaded_error",
}


def exchange(body: dict[str, Any]) -> Exchange:
    """Reduce a Messages request body to what rules match on."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    prompt_at = -1
    prompt = ""
    for i, message in enumerate(messages):
        if message.get("role") != "user":
            continue
        text = _prompt_text(message.get("content"))
        if text is not None:
            prompt_at, prompt = i, text
    commands: dict[str, str | None] = {}
    results: list[ToolResult] = []
    for message in messages[prompt_at + 1:]:
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_use":
                tool_input = block.get("input") or {}
                command = tool_input.get("command") if isinstance(tool_input, dict) else None
                commands[str(block.get("id"))] = command if isinstance(command, str) else None
            elif block.get("type") == "tool_result":
                results.append(ToolResult(commands.get(str(block.get("tool_use_id"))),
                                          _result_text(block.get("content"))))
    tools = frozenset(str(t.get("name")) for t in body.get("tools") or []
                      if isinstance(t, dict) and t.get("name"))
    return Exchange(api="anthropic", model=str(body.get("model", "")), tools=tools,
                    prompt=prompt, tool_results=tuple(results))


def _prompt_text(content: Any) -> str | None:
    """The text a person typed, or None if this user message is not a real prompt (a tool
    result, or nothing but harness reminders)."""
    if isinstance(content, str):
        return strip_envelopes(content) or None
    blocks = _blocks(content)
    if any(b.get("type") == "tool_result" for b in blocks):
        return None
    text = "\n".join(strip_envelopes(str(b.get("text", ""))) for b in blocks
                     if b.get("type") == "text")
    return text.strip() or None


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(b.get("text", "")) for b in _blocks(content) if b.get("type") == "text")


def _usage(usage: Usage, output: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.input,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    }


def _content(answer: Answer, body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = answer.text if answer.kind == "tool" else structured_text(body, answer.text)
    if text:
        blocks.append({"type": "text", "text": text})
    if answer.kind == "tool":
        blocks.append({"type": "tool_use", "id": new_id("toolu_01", 22), "name": "Bash",
                       "input": {"command": answer.command, "description": answer.description}})
    return blocks or [{"type": "text", "text": ""}]


def _stop_reason(answer: Answer) -> str:
    return "tool_use" if answer.kind == "tool" else "end_turn"


def reply(answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
    """The non-streaming response: one ``message`` object."""
    return {
        "id": new_id("msg_01", 22), "type": "message", "role": "assistant",
        "model": body.get("model", ""), "content": _content(answer, body),
        "stop_reason": _stop_reason(answer), "stop_sequence": None,
        "usage": _usage(answer.usage, answer.usage.output),
    }


def events(answer: Answer, body: dict[str, Any]) -> list[Event]:
    """The streaming response, in the API's order: ``message_start`` → per block
    ``content_block_start`` / ``content_block_delta``… / ``content_block_stop`` (a ``ping``
    after the first start, as the real API sends) → ``message_delta`` (stop_reason, usage) →
    ``message_stop``. ``answer.stream_delay`` paces the text deltas."""
    start = {"id": new_id("msg_01", 22), "type": "message", "role": "assistant",
             "model": body.get("model", ""), "content": [], "stop_reason": None,
             "stop_sequence": None, "usage": _usage(answer.usage, 1)}
    out = [Event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(_content(answer, body)):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [({"type": "text_delta", "text": piece}, answer.stream_delay)
                      for piece in chunks(block["text"])]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = json.dumps(block["input"])
            # The API opens with an empty partial_json, then sends the JSON in pieces.
            deltas = [({"type": "input_json_delta", "partial_json": piece}, 0.0)
                      for piece in ["", *(raw[i:i + 40] for i in range(0, len(raw), 40))]]
        out.append(Event("content_block_start", {"type": "content_block_start", "index": index,
                                                 "content_block": opening}))
        if index == 0:
            out.append(Event("ping", {"type": "ping"}))
        for k, (delta, pause) in enumerate(deltas):
            out.append(Event("content_block_delta", {"type": "content_block_delta",
                                                     "index": index, "delta": delta},
                             pause=pause if k else 0.0))
        out.append(Event("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(Event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": None},
        "usage": _usage(answer.usage, answer.usage.output)}))
    out.append(Event("message_stop", {"type": "message_stop"}))
    return out


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An API-shaped error: ``{"type": "error", "error": {"type", "message"}}``."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error",
            "error": {"type": kind, "message": message or f"rehearsal: scripted {status}"},
            "request_id": new_id("req_011", 21)}


def count_tokens(body: dict[str, Any]) -> dict[str, int]:
    """``/v1/messages/count_tokens``: a plausible ``{"input_tokens": N}`` from the payload size."""
    payload = {k: body.get(k) for k in ("system", "messages", "tools")}
    return {"input_tokens": estimate_tokens(payload)}
