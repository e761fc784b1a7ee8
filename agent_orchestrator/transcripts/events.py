"""Agent transcripts as log events: the `LogEvent` type, text cleaning and the parser base.

A transcript becomes one `LogEvent` per prompt, reply, tool call and tool result; the format
parsers (`transcripts.claude` for Claude Code 2.1.197, `transcripts.codex` for Codex CLI
0.169.0) build on `EventParser` and the helpers here. Timestamps are timezone-aware UTC
datetimes (None when a record has none). Nothing here raises on bad input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

EventKind = Literal["user", "assistant", "tool_call", "tool_result", "api_error", "system"]
#: The word shown for each kind in a rendered line (short, so lines stay greppable by kind).
LABELS: dict[str, str] = {"user": "user", "assistant": "asst", "tool_call": "tool",
                          "tool_result": "result", "api_error": "error", "system": "system"}  # fmt: skip
#: Compact tool input is cut here, in characters (a heredoc or a file body would swamp the log).
INPUT_CHARS = 200
COMMAND_CHARS = 240

# Envelopes Claude Code wraps around context it injects into user turns; none of it was typed.
_ENVELOPES = re.compile(r"<(system-reminder|local-command-(?:caveat|stdout|stderr)|command-(?:name|message|args))>"
                        r".*?</\1>\s*", re.DOTALL)  # fmt: skip
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]")
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


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and ``…`` (``limit`` long)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compact_input(tool: str, args: Any) -> str:
    """A tool call's input in one short string: the command for shells, the path for file tools.

    Others: compact JSON cut to `INPUT_CHARS`. ``args`` is the decoded input (any JSON value).
    """
    if isinstance(args, dict):
        if tool == "Bash" and isinstance(args.get("command"), str):
            return cut(args["command"], COMMAND_CHARS)
        if tool in _FILE_TOOLS and isinstance(args.get(_FILE_TOOLS[tool]), str):
            return args[_FILE_TOOLS[tool]]
        cmd = args.get("cmd", args.get("command"))  # Codex exec_command {"cmd"}, shell {"command": [...]}
        if tool in ("exec_command", "shell", "local_shell", "container.exec") and cmd:
            if isinstance(cmd, list):
                cmd = cmd[-1] if len(cmd) == 3 and cmd[1] in ("-c", "-lc") else " ".join(map(str, cmd))
            return cut(str(cmd), COMMAND_CHARS)
    if tool == "apply_patch" and isinstance(args, dict):  # older Codex: {"input": "<patch>"}
        args = args.get("input", args)
    if tool == "apply_patch" and isinstance(args, str):
        return ", ".join(_PATCH_FILE.findall(args)) or cut(args, INPUT_CHARS)
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, separators=(",", ":"))
    return cut(text, INPUT_CHARS)


def content_text(content: Any) -> str:
    """Text of a message / tool-result ``content``: a string or a list of typed blocks.

    Blocks' ``text`` fields are joined by newlines; an image block becomes ``[image]``; other
    blocks are dropped. Anything else gives "".
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [b if isinstance(b, str) else b["text"] if isinstance(b.get("text"), str)
             else "[image]" if b.get("type") in ("image", "input_image") else ""
             for b in content if isinstance(b, str | dict)]  # fmt: skip
    return "\n".join(p for p in parts if p)


class EventParser:
    """Per-file parser state: the session id and the tool name of each call id seen.

    Subclasses implement `feed` for one transcript format. ``source`` is the transcript file;
    ``session`` starts as the given id and follows the ids the records carry.
    """

    def __init__(self, source: Path, session: str) -> None:
        self.source, self.session = source, session
        self.tools: dict[str, str] = {}

    def feed(self, rec: dict[str, Any]) -> list[LogEvent]:
        """The events of one decoded record (often none), in order."""
        raise NotImplementedError

    def _event(self, ts: datetime | None, kind: EventKind, text: str, tool: str | None = None) -> LogEvent:
        return LogEvent(ts, kind, text, tool, self.session, self.source)
