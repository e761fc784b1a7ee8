"""Log events as output: one greppable text line (`render_line`) or a JSON object (`event_json`).

The events come from Claude Code 2.1.197 transcripts and Codex CLI 0.169.0 rollouts
(`transcripts.claude`, `transcripts.codex`); rendering does not depend on the format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent_orchestrator.transcripts.events import LABELS, LogEvent, cut

NEWLINE = " ⏎ "
PROMPT_CHARS = 400  # a kickoff is pages long; the log line shows its start (--json keeps it whole)
#: A rendered tool-result line is cut here, in characters (minified JSON, base64 …).
RESULT_LINE_CHARS = 300


def _stamp(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "-"


def one_line(text: str) -> str:
    """``text`` with every line break shown as `` ⏎ `` so one event stays on one line."""
    return NEWLINE.join(text.splitlines())


def render_line(event: LogEvent, *, agent: str | None = None, max_result_lines: int = 3) -> str:
    """One log line: ``[agent] 2026-11-22T03:10:05Z tool  Bash(git status)``.

    Time is UTC to the second. Prompts are cut to `PROMPT_CHARS` characters. Tool results show
    their first ``max_result_lines`` non-blank lines (each cut to `RESULT_LINE_CHARS`) and
    ``(+N more lines)`` for the rest.
    """
    text = event.text
    if event.kind == "user":
        text = cut(text, PROMPT_CHARS)
    elif event.kind == "tool_call":
        text = f"{event.tool}({text})"
    elif event.kind == "tool_result":
        lines = [cut(ln.rstrip(), RESULT_LINE_CHARS) for ln in text.splitlines() if ln.strip()]
        keep = max(max_result_lines, 1)
        more = f" (+{len(lines) - keep} more lines)" if len(lines) > keep else ""
        text = "\n".join(lines[:keep]) + more if lines else "(no output)"
    line = f"{_stamp(event.ts)} {LABELS.get(event.kind, event.kind)}  {one_line(text)}"
    return f"[{agent}] {line}" if agent else line


def event_json(event: LogEvent) -> dict[str, Any]:
    """The event as a JSON-ready dict: ``{ts, kind, text, tool, session, source}``.

    ``ts`` is ISO-8601 UTC with milliseconds and a ``Z`` (or null); ``text`` is untruncated;
    ``source`` is the transcript path as a string.
    """
    ts = event.ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if event.ts else None
    return {"ts": ts, "kind": event.kind, "text": event.text, "tool": event.tool,
            "session": event.session, "source": str(event.source)}  # fmt: skip
