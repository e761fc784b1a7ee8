"""Hook events → `HookState`: what the CLI itself said about its session (pure).

Event meanings, checked on Claude Code 2.1.197 / 2.1.332 and Codex 0.169.0 / 0.171.0 (research
runs against the scripted model; payload field names are the same in both versions of a CLI):

- SessionStart: a session began (Claude: at start-up, after any first-run dialog; again with
  `source: "compact"` after a compaction, which changes nothing here. Codex: only when the
  first prompt is submitted).
- UserPromptSubmit: a prompt was accepted (`prompt`, Claude's `prompt_id`): the turn is busy.
  It is also the proof that a message was delivered. A steered Codex message fires another one
  inside the running turn.
- PreToolUse / PostToolUse: a tool runs / ran (`tool_name`); a PostToolUse also means any
  permission prompt for it was answered.
- PermissionRequest; Notification with `notification_type: "permission_prompt"`: a person must
  answer. (`idle_prompt`, ~60 s after a turn ended, only says it is still idle.)
- Stop: the turn ended. StopFailure (Claude only): the turn ended on an API error, `error` names
  its type. Interrupt (Codex only): Esc ended the turn. A Codex turn that dies on an API error
  fires nothing (the screen tells).
- SessionEnd: the CLI is exiting.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from agent_orchestrator.truth.model import HookEvent, HookState, PromptSeen

KEEP_PROMPTS = 20  # prompts remembered per agent (delivery proof; enough for a burst of pings)

# Claude Code 2.1.332 wraps a paste of 4+ lines: "\n\n<pasted_content id=\"1bdd\">\n…\n</pasted_content id=\"1bdd\">\n".
_PASTED = re.compile(r'<pasted_content id="[0-9a-f]+">\n?(.*?)\n?</pasted_content id="[0-9a-f]+">', re.DOTALL)


def prompt_digest(text: str) -> str:
    """A digest of a prompt that survives what the CLIs do to pasted text (hex, 16 chars).

    Claude Code turns a tab into 4 spaces and `\\r\\n` into a blank line and (2.1.332) wraps long
    pastes in `<pasted_content>`; Codex strips the trailing newline. So the wrapper is removed and
    all whitespace runs are folded before hashing.

    >>> prompt_digest("one\\ttwo\\r\\nthree\\n") == prompt_digest('\\n\\n<pasted_content id="1bdd">\\none    two\\n\\nthree\\n</pasted_content id="1bdd">\\n')
    True
    """
    text = _PASTED.sub(lambda m: m.group(1), text)
    folded = " ".join(text.split())
    return hashlib.blake2b(folded.encode("utf-8", "replace"), digest_size=8).hexdigest()


def parse_line(line: Mapping[str, Any]) -> HookEvent | None:
    """A recorded line (`{"ts", "event", "data"}`) as a HookEvent, or None when it is not one."""
    ts, event, data = line.get("ts"), line.get("event"), line.get("data")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not isinstance(event, str) or not event:
        return None
    return HookEvent(float(ts), event, data if isinstance(data, dict) else {})


def fold(state: HookState, events: Iterable[HookEvent], *, since: float | None = None) -> HookState:
    """`state` with `events` (in file order) folded in. Events older than `since` (epoch: the
    agent's current start) belong to an earlier process and are skipped."""
    for e in events:
        if since is not None and e.ts < since:
            continue
        state = _one(state, e)
    return state


def _one(st: HookState, e: HookEvent) -> HookState:
    data = e.data
    st = replace(st, last_event=e.event, last_event_at=e.ts)
    if e.event == "SessionStart":
        if data.get("source") == "compact":
            return st
        return replace(st, session=str(data.get("session_id") or ""), ended=False, tool="", needs_input="",
                       turn="idle" if st.turn != "busy" else st.turn, turn_since=st.turn_since or e.ts)
    if e.event == "UserPromptSubmit":
        seen = PromptSeen(prompt_digest(str(data.get("prompt") or "")), str(data.get("prompt_id") or ""), e.ts)
        prompts = (*st.prompts, seen)[-KEEP_PROMPTS:]
        return replace(st, turn="busy", turn_since=e.ts if st.turn != "busy" else st.turn_since, api_error="", needs_input="",
                       prompts=prompts, ended=False)
    if e.event == "PreToolUse":
        return replace(st, turn="busy", tool=str(data.get("tool_name") or "tool"),
                       turn_since=e.ts if st.turn != "busy" else st.turn_since)
    if e.event == "PostToolUse":
        return replace(st, tool="", needs_input="")
    if e.event == "PermissionRequest":
        return replace(st, needs_input=f"permission: {data.get('tool_name') or 'a tool'}")
    if e.event == "Notification":
        if data.get("notification_type") == "permission_prompt" and not st.needs_input:
            return replace(st, needs_input=str(data.get("message") or "permission prompt"))
        return st
    if e.event in ("Stop", "StopFailure", "Interrupt"):
        error = str(data.get("error") or "api error") if e.event == "StopFailure" else ""
        return replace(st, turn="idle", turn_since=e.ts, tool="", needs_input="", api_error=error)
    if e.event == "SessionEnd":
        return replace(st, ended=True, turn="", tool="", needs_input="", turn_since=e.ts)
    return st


def read_events(lines: Iterable[Mapping[str, Any]]) -> tuple[HookEvent, ...]:
    """The recorded lines that are hook events, in order (anything else is skipped)."""
    return tuple(e for e in (parse_line(line) for line in lines) if e is not None)


def find_prompt(events: Iterable[HookEvent], digest: str) -> HookEvent | None:
    """The first UserPromptSubmit among `events` whose prompt has `digest`, or None."""
    for e in events:
        if e.event == "UserPromptSubmit" and prompt_digest(str(e.data.get("prompt") or "")) == digest:
            return e
    return None


def describe(e: HookEvent) -> str:
    """One short line for `status --why`: the event and what it carries."""
    data = e.data
    extra = data.get("tool_name") or data.get("error") or data.get("notification_type") or data.get("source") or ""
    return f"{e.event}{f' ({extra})' if extra else ''}"


def as_json(e: HookEvent) -> str:
    """The event as its recorded line (tests and fixtures)."""
    return json.dumps({"ts": e.ts, "event": e.event, "data": dict(e.data)})
