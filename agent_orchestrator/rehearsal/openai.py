"""The OpenAI Responses API as Codex CLI uses it: request → ``Exchange``, ``Answer`` → SSE events.
Pure.

Checked against Codex CLI 0.169.0 (``POST /v1/responses``, ``stream: true``, ``input`` items:
``developer``/``user`` messages with ``input_text`` parts — ``<environment_context>`` and AGENTS.md
arrive as separate user messages before the prompt — then ``function_call`` /
``function_call_output`` items; the shell tool is ``exec_command`` with ``{"cmd": …}``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from agent_orchestrator.tokens.usage import Usage

from .playbook import Answer, Exchange, ToolResult
from .wire import Event, chunks, new_id, strip_envelopes, structured_text

_ERROR_CODES = {429: ("requests", "rate_limit_exceeded"), 401: ("invalid_request_error",
                "invalid_api_key"), 500: ("server_error", None), 503: ("server_error", None)}


def exchange(body: dict[str, Any]) -> Exchange:
    """Reduce a Responses request body to what rules match on."""
    raw = body.get("input")
    items = [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else [
        i for i in raw or [] if isinstance(i, dict)]
    prompt_at, prompt = -1, ""
    for index, item in enumerate(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            text = strip_envelopes(_text(item.get("content")))
            if text:
                prompt_at, prompt = index, text
    commands: dict[str, str | None] = {}
    results: list[ToolResult] = []
    for item in items[prompt_at + 1:]:
        kind = item.get("type")
        if kind == "function_call":
            commands[str(item.get("call_id"))] = _command(item.get("arguments"))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            results.append(ToolResult(commands.get(str(item.get("call_id"))),
                                      _output_text(item.get("output"))))
    tools = frozenset(str(t.get("name") or t.get("type")) for t in body.get("tools") or []
                      if isinstance(t, dict) and (t.get("name") or t.get("type")))
    return Exchange(api="openai", model=str(body.get("model", "")), tools=tools, prompt=prompt,
                    tool_results=tuple(results))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(str(p.get("text", "")) for p in content
                     if isinstance(p, dict) and p.get("type") in ("input_text", "text"))


def _command(arguments: Any) -> str | None:
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return None
    cmd = parsed.get("cmd", parsed.get("command")) if isinstance(parsed, dict) else None
    if isinstance(cmd, list):  # the older `shell` tool sends argv
        return " ".join(str(c) for c in cmd)
    return cmd if isinstance(cmd, str) else None


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        return str(output.get("content") or output.get("output") or json.dumps(output))
    return _text(output)


def _usage(usage: Usage) -> dict[str, Any]:
    # OpenAI counts cached tokens inside input_tokens.
    total_in = usage.input + usage.cache_read + usage.cache_write
    return {"input_tokens": total_in, "input_tokens_details": {"cached_tokens": usage.cache_read},
            "output_tokens": usage.output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": total_in + usage.output}


def _response(rid: str, body: dict[str, Any], status: str, output: list[dict[str, Any]],
              usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": rid, "object": "response", "created_at": int(time.time()), "status": status,
            "model": body.get("model", ""), "output": output, "parallel_tool_calls": True,
            "tool_choice": "auto", "error": None, "incomplete_details": None, "usage": usage}


def events(answer: Answer, body: dict[str, Any]) -> list[Event]:
    """The streaming response: ``response.created``, ``response.in_progress``; per output item
    ``response.output_item.added`` … ``response.output_item.done`` (a message with
    ``content_part``/``output_text`` delta/done events, or a ``function_call`` to ``exec_command``
    with ``function_call_arguments`` delta/done); then ``response.completed`` with usage.
    ``answer.stream_delay`` paces the text deltas."""
    rid = new_id("resp_", 32)
    out: list[Event] = []

    def emit(name: str, data: dict[str, Any], pause: float = 0.0) -> None:
        out.append(Event(name, {"type": name, "sequence_number": len(out), **data}, pause))

    emit("response.created", {"response": _response(rid, body, "in_progress", [], None)})
    emit("response.in_progress", {"response": _response(rid, body, "in_progress", [], None)})
    done_items: list[dict[str, Any]] = []
    text = answer.text if answer.kind == "tool" else structured_text(body, answer.text)
    if text or answer.kind != "tool":
        item_id = new_id("msg_", 32)
        index = len(done_items)
        emit("response.output_item.added", {"output_index": index, "item": {
            "id": item_id, "type": "message", "status": "in_progress", "role": "assistant",
            "content": []}})
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        emit("response.content_part.added",
             {**where, "part": {"type": "output_text", "text": "", "annotations": []}})
        for k, piece in enumerate(chunks(text)):
            emit("response.output_text.delta", {**where, "delta": piece},
                 answer.stream_delay if k else 0.0)
        part = {"type": "output_text", "text": text, "annotations": []}
        emit("response.output_text.done", {**where, "text": text})
        emit("response.content_part.done", {**where, "part": part})
        item = {"id": item_id, "type": "message", "status": "completed", "role": "assistant",
                "content": [part]}
        emit("response.output_item.done", {"output_index": index, "item": item})
        done_items.append(item)
    if answer.kind == "tool":
        item_id, index = new_id("fc_", 32), len(done_items)
        arguments = json.dumps({"cmd": answer.command})
        call = {"id": item_id, "type": "function_call", "status": "in_progress",
                "name": "exec_command", "call_id": new_id("call_", 24), "arguments": ""}
        emit("response.output_item.added", {"output_index": index, "item": call})
        for i in range(0, len(arguments), 40):
            emit("response.function_call_arguments.delta",
                 {"item_id": item_id, "output_index": index, "delta": arguments[i:i + 40]})
        emit("response.function_call_arguments.done",
             {"item_id": item_id, "output_index": index, "arguments": arguments})
        item = {**call, "status": "completed", "arguments": arguments}
        emit("response.output_item.done", {"output_index": index, "item": item})
        done_items.append(item)
    emit("response.completed",
         {"response": _response(rid, body, "completed", done_items, _usage(answer.usage))})
    return out


def reply(answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
    """The non-streaming response object (what ``response.completed`` carries)."""
    return events(answer, body)[-1].data["response"]


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An API-shaped error: ``{"error": {"message", "type", "param", "code"}}``."""
    kind, code = _ERROR_CODES.get(status, ("invalid_request_error", None))
    return {"error": {"message": message or f"rehearsal: scripted {status}", "type": kind,
                      "param": None, "code": code}}
