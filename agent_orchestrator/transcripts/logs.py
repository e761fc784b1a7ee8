"""Agent transcripts as a clean, greppable log: one `LogEvent` per prompt, reply, tool call/result.

Formats parsed (auto-detected with `tokens.readers.detect_kind`):

- Claude Code 2.1.197 JSONL (``~/.claude/projects/<slug>/<sessionId>.jsonl``): ``user`` records
  (a prompt, or ``tool_result`` blocks with ``toolUseResult``), ``assistant`` records (one line
  per content block, lines of one API response share ``message.id``), API errors (``assistant``
  with ``isApiErrorMessage`` / model ``<synthetic>`` and ``apiErrorStatus``), ``system`` records
  (``api_error`` retries, ``compact_boundary``, ``turn_duration``, ``local_command``).
- Codex CLI 0.169.0 rollouts (``rollout-<ts>-<id>.jsonl``, lines ``{timestamp, type, payload}``):
  ``session_meta``, ``response_item`` (``message``, ``function_call``, ``function_call_output``,
  custom / local-shell / web-search calls) and ``event_msg`` errors and aborts.

Timestamps are timezone-aware UTC datetimes (None when a record has none). Nothing here raises
on bad input: malformed lines and a half-written last line are skipped.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent_orchestrator.tokens.scanner import detect_kind

EventKind = Literal["user", "assistant", "tool_call", "tool_result", "api_error", "system"]
#: The word shown for each kind in a rendered line (short, so lines stay greppable by kind).
LABELS: dict[str, str] = {"user": "user", "assistant": "asst", "tool_call": "tool",
                          "tool_result": "result", "api_error": "error", "system": "system"}  # fmt: skip
NEWLINE = " ⏎ "
#: Compact tool input is cut here (a heredoc or a file body in a command would swamp the log).
INPUT_CHARS = 200
COMMAND_CHARS = 240
PROMPT_CHARS = 400  # a kickoff is pages long; the log line shows its start (--json keeps it whole)
#: A rendered tool-result line is cut here (minified JSON, base64 …).
RESULT_LINE_CHARS = 300
CHUNK_BYTES = 8 << 20
_MAX_KEYS = 4096  # Claude blocks already emitted; a response's lines are adjacent, so few suffice

# Envelopes Claude Code wraps around context it injects into user turns; none of it was typed.
_ENVELOPES = re.compile(r"<(system-reminder|local-command-(?:caveat|stdout|stderr)|command-(?:name|message|args))>"
                        r".*?</\1>\s*", re.DOTALL)  # fmt: skip
# Codex sends its context (environment, AGENTS.md, skills, aborted-turn notes) as role-"user"
# messages wrapped in one snake_case tag; a typed prompt practically never is.
_CODEX_CONTEXT = re.compile(r"^\s*(<[a-z]+(?:_[a-z]+)+\b[^>]*>|# AGENTS\.md instructions)")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]")
# Codex's exec_command output starts with a bookkeeping header before "Output:".
_CODEX_EXIT = re.compile(r"^(?:Process exited with code|Exit code:?)\s*(-?\d+)", re.MULTILINE)
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.MULTILINE)
_FILE_TOOLS = {"Edit": "file_path", "Write": "file_path", "Read": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path"}


@dataclass(frozen=True)
class LogEvent:
    """One line of the log.

    ``ts`` is an aware UTC datetime or None; ``kind`` one of `EventKind`; ``text`` the cleaned
    text (a tool call's compact input, a tool result's full output, newlines kept); ``tool`` the
    tool name for calls and results; ``session`` the Claude ``sessionId`` / Codex session id
    (else the file stem); ``source`` the transcript file.
    """

    ts: datetime | None
    kind: EventKind
    text: str
    tool: str | None
    session: str
    source: Path


def parse_ts(value: Any) -> datetime | None:
    """An ISO-8601 string (``...Z`` or with an offset) as an aware UTC datetime, else None."""
    try:
        ts = datetime.fromisoformat(value)  # TypeError for a non-string
    except (TypeError, ValueError):
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def clean(text: str) -> str:
    """Drop injected envelopes (system reminders, local-command caveats) and terminal escapes."""
    return _ANSI.sub("", _ENVELOPES.sub("", text)).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compact_input(tool: str, args: Any) -> str:
    """A tool call's input in one short string: the command for shells, the path for file tools.

    Others: compact JSON cut to `INPUT_CHARS`. ``args`` is the decoded input (any JSON value).
    """
    if isinstance(args, dict):
        if tool == "Bash" and isinstance(args.get("command"), str):
            return _cut(args["command"], COMMAND_CHARS)
        if tool in _FILE_TOOLS and isinstance(args.get(_FILE_TOOLS[tool]), str):
            return args[_FILE_TOOLS[tool]]
        cmd = args.get("cmd", args.get("command"))  # Codex exec_command {"cmd"}, shell {"command": [...]}
        if tool in ("exec_command", "shell", "local_shell", "container.exec") and cmd:
            if isinstance(cmd, list):
                cmd = cmd[-1] if len(cmd) == 3 and cmd[1] in ("-c", "-lc") else " ".join(map(str, cmd))
            return _cut(str(cmd), COMMAND_CHARS)
    if tool == "apply_patch" and isinstance(args, dict):  # older Codex: {"input": "<patch>"}
        args = args.get("input", args)
    if tool == "apply_patch" and isinstance(args, str):
        return ", ".join(_PATCH_FILE.findall(args)) or _cut(args, INPUT_CHARS)
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, separators=(",", ":"))
    return _cut(text, INPUT_CHARS)


def _content_text(content: Any) -> str:
    """Text of a message / tool-result ``content``: a string or a list of typed blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [b if isinstance(b, str) else b["text"] if isinstance(b.get("text"), str)
             else "[image]" if b.get("type") in ("image", "input_image") else ""
             for b in content if isinstance(b, str | dict)]  # fmt: skip
    return "\n".join(p for p in parts if p)


class _Parser:
    """Per-file parser state: the session id and the tool name of each call id seen."""

    def __init__(self, source: Path, session: str) -> None:
        self.source, self.session = source, session
        self.tools: dict[str, str] = {}

    def _event(self, ts: datetime | None, kind: EventKind, text: str, tool: str | None = None) -> LogEvent:
        return LogEvent(ts, kind, text, tool, self.session, self.source)


class _ClaudeParser(_Parser):
    """Claude Code 2.1.197 records → events; remembers the blocks already emitted."""

    def __init__(self, source: Path) -> None:
        super().__init__(source, source.stem)
        self.seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def feed(self, rec: dict[str, Any]) -> list[LogEvent]:
        sid = rec.get("sessionId")
        if isinstance(sid, str) and sid:
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
            text = clean(_content_text(msg.get("content")))
            return [self._event(ts, "system", f"compact summary: {text}")] if text else []
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [content]
        out: list[LogEvent] = []
        prompt: list[str] = []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                text = clean(_content_text(block.get("content")))
                if block.get("is_error") is True:
                    text = f"[error] {text}"
                out.append(self._event(ts, "tool_result", text, self.tools.get(str(block.get("tool_use_id")))))
            else:
                prompt.append(_content_text([block]))
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
        if rec.get("isApiErrorMessage") is True or msg.get("model") == "<synthetic>":
            text = clean(_content_text(content))
            status = rec.get("apiErrorStatus")
            if rec.get("isApiErrorMessage") is not True and status is None:
                # Synthetic but not an error: "No response requested." and similar stand-ins.
                return [self._event(ts, "system", text)] if text else []
            head = " ".join(str(p) for p in (status, rec.get("error")) if p not in (None, ""))
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
            err = rec.get("error") if isinstance(rec.get("error"), dict) else {}
            status, detail, body = err.get("status") or "", err.get("message"), err.get("error")
            while not detail and isinstance(body, dict):  # the SDK error's body: {error: {message}}
                detail, body = body.get("message"), body.get("error")
            detail = detail or json.dumps(err, separators=(",", ":"))
            wait = rec.get("retryInMs")
            retry = f"retry {rec.get('retryAttempt')}/{rec.get('maxRetries')}"
            retry += f" in {wait / 1000:.0f}s" if isinstance(wait, int | float) else ""
            return [self._event(ts, "api_error", f"{status} {_cut(str(detail), INPUT_CHARS)} ({retry})".strip())]
        if sub == "turn_duration":
            ms = rec.get("durationMs")
            return [self._event(ts, "system", f"turn done in {ms / 1000:.1f}s")] if isinstance(ms, int | float) else []
        if sub == "local_command":  # output of a /command typed in the TUI: envelope noise
            return []
        text = clean(str(rec.get("content") or ""))
        return [self._event(ts, "system", text)] if text else []


class _CodexParser(_Parser):
    """Codex CLI 0.169.0 rollout lines → events.

    The conversation is taken from ``response_item`` only. ``event_msg`` user_message /
    agent_message (and 0.169's ``item_completed`` UserMessage / AgentMessage) repeat the same text,
    while tool calls and their outputs exist only as response items; one source cannot double a
    line, and it is what the model saw and what a resume replays. ``event_msg`` adds only what
    response items lack: errors and aborted turns.
    """

    def __init__(self, source: Path) -> None:
        m = re.search(r"([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$", source.stem)
        super().__init__(source, m.group(1) if m else source.stem)

    def feed(self, rec: dict[str, Any]) -> list[LogEvent]:
        payload, ts = rec.get("payload"), parse_ts(rec.get("timestamp"))
        if not isinstance(payload, dict):
            return []
        rtype, ptype = rec.get("type"), payload.get("type")
        if rtype == "session_meta":
            if isinstance(payload.get("id"), str) and payload["id"]:
                self.session = payload["id"]
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
            role, text = payload.get("role"), clean(_content_text(payload.get("content")))
            if role == "assistant" and text:
                return [self._event(ts, "assistant", text)]
            if role == "user" and text and not _CODEX_CONTEXT.match(text):
                return [self._event(ts, "user", text)]
            return []  # developer / system instructions, injected context
        if ptype in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
            return [self._call(ts, ptype, payload)]
        if ptype in ("function_call_output", "custom_tool_call_output"):
            name = self.tools.get(str(payload.get("call_id")))
            return [self._event(ts, "tool_result", _codex_output(payload.get("output")), name)]
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


def _codex_output(output: Any) -> str:
    """A function-call output as text, without exec_command's bookkeeping header.

    The output is a string (for apply_patch a JSON ``{"output", "metadata": {"exit_code"}}``),
    ``{"content", "success"}`` or a list of content items; the header (``Chunk ID`` / ``Wall
    time`` / ``Process exited with code N`` / ``Output:``) becomes ``[exit N]`` when N is not 0.
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
    text = _content_text(output) if not isinstance(output, str) else output
    head, sep, body = text.partition("Output:\n")
    if sep and len(head) < 400 and ("Wall time" in head or "Exit code" in head):
        m = _CODEX_EXIT.search(head)
        text, code = body if body.strip() else "(no output)", int(m.group(1)) if m else code
    text = clean(text)
    text = f"[exit {code}] {text}" if code not in (None, 0) else text
    return f"[error] {text}" if failed else text


class TranscriptTail:
    """Incremental reader of one transcript file (Claude Code 2.1.197 or Codex 0.169.0).

    `read` returns the events of the complete lines appended since the last call (byte offset
    kept; a half-written last line waits for its ``"\\n"``); a replaced or shrunk file is read
    again from the start. ``kind``: "claude", "codex", "unknown" (yields nothing) or None (not
    known yet: no complete line). ``skipped`` counts malformed lines.
    """

    def __init__(self, path: Path | str, kind: str | None = None) -> None:
        self.path, self.kind, self.offset, self.skipped = Path(path), kind, 0, 0
        self._inode: int | None = None
        self._parser: _ClaudeParser | _CodexParser | None = None

    def read(self, *, final: bool = False) -> list[LogEvent]:
        """New events; ``final=True`` also parses a last line with no ``"\\n"`` (file complete).

        Raises OSError if the file cannot be opened (FileNotFoundError if it is gone).
        """
        events: list[LogEvent] = []
        with open(self.path, "rb") as f:
            st = os.fstat(f.fileno())
            if self._inode not in (None, st.st_ino) or st.st_size < self.offset:
                self.offset, self._parser = 0, None  # replaced or truncated: start over
            self._inode = st.st_ino
            if self.kind is None:  # an unrecognised file is given up only once it has a whole line
                self.kind = detect_kind(self.path) or ("unknown" if b"\n" in f.read(1 << 20) else None)
            if self.kind not in ("claude", "codex"):
                return events
            if self._parser is None:
                self._parser = _ClaudeParser(self.path) if self.kind == "claude" else _CodexParser(self.path)
            f.seek(self.offset)
            carry = b""
            while chunk := f.read(CHUNK_BYTES):
                buf = carry + chunk
                end = buf.rfind(b"\n") + 1
                for line in buf[:end].split(b"\n")[:-1]:
                    events += self._line(line)
                self.offset += end
                carry = buf[end:]
            if final and carry.strip():
                events += self._line(carry)
                self.offset += len(carry)
        return events

    def _line(self, line: bytes) -> list[LogEvent]:
        try:
            rec = json.loads(line) if line.strip() else {}
        except ValueError:  # malformed JSON or bad UTF-8: a torn write, never fatal
            rec = None
        if not isinstance(rec, dict):
            self.skipped += 1
        return self._parser.feed(rec) if rec and self._parser else []


def iter_events(path: Path | str) -> Iterator[LogEvent]:
    """Every event of a complete transcript file, in file order.

    The format (Claude Code 2.1.197 / Codex 0.169.0) is detected from the file; an unrecognised
    or empty file yields nothing. Malformed lines and a torn last line are skipped. Raises
    OSError (FileNotFoundError) if the file cannot be read.
    """
    yield from TranscriptTail(path).read(final=True)


def _stamp(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


def one_line(text: str) -> str:
    """``text`` with every line break shown as `` ⏎ `` so one event stays on one line."""
    return NEWLINE.join(text.splitlines())


def render_line(event: LogEvent, *, agent: str | None = None, max_result_lines: int = 3) -> str:
    """One log line: ``[agent] 2026-11-22T03:10:05Z tool  Bash(git status)``.

    Time is UTC to the second. Tool results show their first ``max_result_lines`` non-blank
    lines (each cut to `RESULT_LINE_CHARS`) and ``(+N more lines)`` for the rest.
    """
    text = event.text
    if event.kind == "user":
        text = _cut(text, PROMPT_CHARS)
    elif event.kind == "tool_call":
        text = f"{event.tool}({text})"
    elif event.kind == "tool_result":
        lines = [_cut(ln.rstrip(), RESULT_LINE_CHARS) for ln in text.splitlines() if ln.strip()]
        keep = max(max_result_lines, 1)
        more = f" (+{len(lines) - keep} more lines)" if len(lines) > keep else ""
        text = "\n".join(lines[:keep]) + more if lines else "(no output)"
    line = f"{_stamp(event.ts)} {LABELS.get(event.kind, event.kind)}  {one_line(text)}"
    return f"[{agent}] {line}" if agent else line


def event_json(event: LogEvent) -> dict[str, Any]:
    """The event as a JSON-ready dict: ``{ts, kind, text, tool, session, source}``.

    ``ts`` is ISO-8601 UTC with milliseconds and a ``Z`` (or null); ``text`` is untruncated.
    """
    ts = event.ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if event.ts else None
    return {"ts": ts, "kind": event.kind, "text": event.text, "tool": event.tool,
            "session": event.session, "source": str(event.source)}  # fmt: skip
