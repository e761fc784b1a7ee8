"""Reading transcripts as log events: one file (`TranscriptTail`, `iter_events`) or many (`LogSet`).

Formats: Claude Code 2.1.197 JSONL and Codex CLI 0.169.0 rollouts, told apart by
`transcripts.records.detect_kind` and parsed by `transcripts.claude` / `transcripts.codex`.
Reading is incremental (`transcripts.tail.read_chunks`): a call costs what the files gained.
Nothing here raises on bad input: malformed lines and a half-written last line are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.transcripts.claude import ClaudeParser
from agent_orchestrator.transcripts.codex import CodexParser
from agent_orchestrator.transcripts.events import LogEvent
from agent_orchestrator.transcripts.records import detect_kind
from agent_orchestrator.transcripts.tail import Position, read_chunks

if TYPE_CHECKING:
    from agent_orchestrator.transcripts.discovery import Source

#: An event and the agent whose transcript it came from (None for files given by path).
Tagged = tuple[str | None, LogEvent]

_HEAD_BYTES = 1 << 20


def mtime(path: Path) -> float:
    """The modification time of ``path`` (epoch seconds), or 0.0 when it cannot be read."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _has_line(path: Path) -> bool:
    """Whether the first 1 MiB of ``path`` holds a line break (a whole first line)."""
    with open(path, "rb") as f:
        return b"\n" in f.read(_HEAD_BYTES)


class TranscriptTail:
    """Incremental reader of one transcript file (Claude Code 2.1.197 or Codex 0.169.0).

    `read` returns the events of the complete lines appended since the last call (a
    `tail.Position` is kept; a half-written last line waits for its ``"\\n"``); a replaced, shrunk
    or rewritten file is read again from the start. ``kind``: "claude", "codex", "unknown"
    (yields nothing) or None (not known yet: no complete line). ``skipped`` counts malformed
    lines.
    """

    def __init__(self, path: Path | str, kind: str | None = None) -> None:
        self.path, self.kind, self.skipped = Path(path), kind, 0
        self.position = Position()
        self._parser: ClaudeParser | CodexParser | None = None

    @property
    def offset(self) -> int:
        """Bytes of the file consumed so far."""
        return self.position.offset

    def read(self, *, final: bool = False) -> list[LogEvent]:
        """New events; ``final=True`` also parses a last line with no ``"\\n"`` (file complete).

        Raises OSError if the file cannot be opened (FileNotFoundError if it is gone).
        """
        chunks = read_chunks(self.path, self.position, final=final)
        if chunks.reset:
            self._parser = None  # replaced, truncated or rewritten: start over
        try:
            if self.kind is None:  # an unrecognised file is given up only once it has a whole line
                self.kind = detect_kind(self.path) or ("unknown" if _has_line(self.path) else None)
        except BaseException:
            chunks.close()
            raise
        if self.kind not in ("claude", "codex"):
            chunks.close()
            return []
        if self._parser is None:
            self._parser = ClaudeParser(self.path) if self.kind == "claude" else CodexParser(self.path)
        events: list[LogEvent] = []
        for buf, end in chunks:
            for line in buf[:end].split(b"\n"):
                if line:
                    events += self._line(line)
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
    or empty file yields nothing. Malformed lines are skipped; a last line without ``"\\n"`` is
    parsed (and skipped when torn). Raises OSError (FileNotFoundError) if the file cannot be read.
    """
    yield from TranscriptTail(path).read(final=True)


@dataclass
class _Followed:
    """One file of a `LogSet`: its agent, its reader, the time of its last timed event."""

    agent: str | None
    tail: TranscriptTail
    last: datetime = datetime.min.replace(tzinfo=UTC)


class LogSet:
    """The transcripts of a selection, read incrementally (a byte position per file).

    ``sources`` are `discovery.Source` objects (an agent's transcript folder, or given paths).
    `poll` lists the sources' files again (picking up new sessions), reads what each file gained
    since the last poll, and returns the new events tagged with their agent, in time order (files
    oldest first; events by timestamp, an event without one keeps its place after the event
    before it in its file). ``warn`` receives one-line notes (unrecognised or unreadable files),
    once per file. ``files`` maps each file followed to its state.
    """

    def __init__(self, sources: list[Source], warn: Callable[[str], None] = lambda _: None) -> None:
        self.sources, self.warn = sources, warn
        self.files: dict[Path, _Followed] = {}
        self._noted: set[Path] = set()

    def poll(self) -> list[Tagged]:
        """New events since the last call (on the first call: everything), as (agent, event)."""
        for src in self.sources:
            for path in src.files():
                if path not in self.files:
                    self.files[path] = _Followed(src.agent, TranscriptTail(path))
        keyed: list[tuple[datetime, int, Tagged]] = []
        for path in sorted(self.files, key=mtime):
            followed = self.files[path]
            tail = followed.tail
            try:
                events = tail.read()
            except FileNotFoundError:
                del self.files[path]  # a session file removed (Claude deletes old transcripts)
                continue
            except OSError as exc:
                self._note(path, f"{path}: cannot read: {exc.strerror}")
                continue
            if tail.kind == "unknown":
                self._note(path, f"{path}: not a Claude Code or Codex transcript; skipped")
            for ev in events:
                followed.last = ev.ts or followed.last
                keyed.append((followed.last, len(keyed), (followed.agent, ev)))
        keyed.sort(key=lambda k: (k[0], k[1]))
        return [k[2] for k in keyed]

    def _note(self, path: Path, message: str) -> None:
        if path not in self._noted:
            self._noted.add(path)
            self.warn(message)
