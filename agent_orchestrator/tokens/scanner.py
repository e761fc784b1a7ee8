"""Incremental token readers for Claude Code transcripts and Codex rollouts.

Checked against Claude Code 2.1.197 and Codex CLI 0.169.0; what their records mean (API errors,
the de-duplication key, ``session_meta``, cumulative ``token_count``) is in
`transcripts.records`, and files are read with `transcripts.tail.read_chunks`. Claude: one API
response is several ``assistant`` lines sharing a key, early ones with a streaming snapshot of
``output_tokens``; the largest total per key counts once. Codex: ``token_count`` events carry a
cumulative total; what exceeds the high-water mark counts. Offsets are remembered, so a call
costs what was appended.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_orchestrator.tokens.usage import Usage, claude_usage, codex_usage
from agent_orchestrator.transcripts.records import (
    CLAUDE_ASSISTANT_MARKER,
    CLAUDE_USAGE_MARKER,
    CODEX_SESSION_META_MARKER,
    CODEX_TOKEN_COUNT_MARKER,
    claude_session_id,
    claude_usage_key,
    codex_session_meta,
    codex_total_tokens,
    detect_kind,
    is_claude_synthetic,
    rollout_id,
)
from agent_orchestrator.transcripts.tail import Position, end_position, read_chunks

STATE_VERSION = 1
#: Claude de-duplication keys remembered per file. The lines of one response are written
#: together, so a few hundred is far more than needed and bounds state for endless sessions.
DEFAULT_MAX_KEYS = 512

_ZERO = Usage()


@dataclass
class _FileState:
    """What the scanner remembers about one file (byte offsets; token counts)."""

    kind: str  # "claude" | "codex"
    pos: Position = field(default_factory=Position)  # inode and bytes consumed (after a "\n")
    session_id: str | None = None
    # claude: de-duplication key -> usage already counted for it, oldest sighting first
    keys: OrderedDict[str, Usage] = field(default_factory=OrderedDict)
    # codex: high-water mark of the cumulative total_token_usage already counted
    counted: Usage = _ZERO
    cwd: str | None = None
    forked_from: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "inode": self.pos.inode or 0, "offset": self.pos.offset,
                             "session_id": self.session_id}  # fmt: skip
        if self.kind == "claude":
            d["keys"] = [[k, u.input, u.output, u.cache_read, u.cache_write]
                         for k, u in self.keys.items()]  # fmt: skip
        else:
            d.update(counted=self.counted.to_dict(), cwd=self.cwd,
                     forked_from=self.forked_from)  # fmt: skip
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _FileState:
        fs = cls(kind=d["kind"], pos=Position(inode=int(d["inode"]), offset=int(d["offset"])),
                 session_id=d.get("session_id"))  # fmt: skip
        if fs.kind == "claude":
            fs.keys = OrderedDict((str(k), Usage(*map(int, v))) for k, *v in d.get("keys", []))
        elif fs.kind == "codex":
            fs.counted = Usage.from_dict(d.get("counted") or {})
            fs.cwd, fs.forked_from = d.get("cwd"), d.get("forked_from")
        else:
            raise ValueError(f"unknown transcript kind {fs.kind!r}")
        return fs


def _lines_with(buf: bytes, end: int, marker: bytes) -> Iterator[bytes]:
    """The complete lines of ``buf[:end]`` that contain ``marker``, in file order.

    Jumping between marker hits with `bytes.find` skips the bulk of a transcript (tool output,
    file contents) without splitting it into line objects.
    """
    pos = 0
    while (i := buf.find(marker, pos, end)) >= 0:
        start = buf.rfind(b"\n", 0, i) + 1
        stop = buf.find(b"\n", i, end)
        if stop < 0:
            stop = end
        yield buf[start:stop]
        pos = stop + 1


class TranscriptScanner:
    """Incremental reader over transcript files.

    State is JSON-serialisable (`to_state`/`from_state`) so a restarted process neither loses nor
    double-counts. Per file it keeps: the inode, the byte offset read so far (only complete
    lines are consumed; a partial last line waits for its ``"\\n"``), and the counted usage per
    Claude message key or the Codex cumulative high-water mark. A file that was replaced (other
    inode), shrank below the offset, or no longer has a line break just before the offset is
    re-read from 0; the remembered keys / high-water mark keep that from counting again (Claude
    lines without a ``message.id`` have no key, so a re-read counts them again).

    ``skipped_lines`` counts candidate lines (those carrying a usage marker) that were not a
    JSON object — malformed or half-written lines are skipped, never fatal.
    """

    def __init__(self, state: dict | None = None, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.skipped_lines = 0
        self.bytes_read = 0  # bytes consumed in this process (callers use it to skip no-op saves)
        self._files: dict[str, _FileState] = {}
        if not state:
            return
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported scanner state version {state.get('version')!r}")
        try:
            self.skipped_lines = int(state.get("skipped_lines", 0))
            for path, d in state.get("files", {}).items():
                self._files[path] = _FileState.from_json(d)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"corrupt scanner state: {e!r}") from e

    def to_state(self) -> dict:
        """A JSON-serialisable snapshot: ``{"version", "skipped_lines", "files": {path: …}}``."""
        return {
            "version": STATE_VERSION,
            "skipped_lines": self.skipped_lines,
            "files": {p: fs.to_json() for p, fs in self._files.items()},
        }

    @classmethod
    def from_state(cls, d: dict) -> TranscriptScanner:
        """Rebuild a scanner from `to_state` output. Raises ValueError on a foreign/corrupt one."""
        return cls(d)

    def skip_claude(self, path: Path | str) -> None:
        """Start ``path`` at its last complete line without reading it (history not to charge).

        Only for Claude transcripts: their counts are per line, so nothing before the skip point
        matters (a Codex rollout's counts are cumulative and must be read). Costs one seek.
        """
        key = os.path.abspath(path)
        try:
            pos = end_position(key)
        except FileNotFoundError:
            return
        self._files[key] = _FileState(kind="claude", pos=pos)
        self.bytes_read += pos.offset

    def forget(self, path: Path | str) -> None:
        """Drop what is remembered about ``path`` (e.g. a session no longer watched)."""
        self._files.pop(os.path.abspath(path), None)

    def session_id(self, path: Path | str) -> str | None:
        """Claude ``sessionId`` / Codex ``session_meta.id`` seen in ``path`` so far, or None."""
        fs = self._files.get(os.path.abspath(path))
        return fs.session_id if fs else None

    def read_claude(self, path: Path | str) -> Usage:
        """Tokens in Claude Code transcript ``path`` that are new since the last call.

        De-duplication (ccusage's "largest total wins", made incremental): the key is
        ``message.id:requestId`` (``message.id`` alone without a requestId; lines without an id
        are each counted). A key's first line is counted in full; a later line with a strictly
        larger total adds only its difference from what was counted; others add nothing. So the
        sum over calls is exactly the largest-total line per key. (A bucket of one returned delta
        can be negative only if a later snapshot lowered that bucket while raising the total —
        not seen in Claude Code's output.) Returns ``Usage()`` for a missing file. Raises
        OSError if the file exists but cannot be read; ValueError if ``path`` was read as Codex.
        """
        got = Usage()
        for fs, buf, end in self._chunks(path, "claude"):
            for line in _lines_with(buf, end, CLAUDE_USAGE_MARKER):
                if CLAUDE_ASSISTANT_MARKER in line:
                    got = got + self._claude_line(fs, line)
        return got

    def read_codex(self, path: Path | str) -> tuple[Usage, str | None]:
        """New tokens in Codex rollout ``path`` since the last call, and its session cwd.

        Counting follows the cumulative ``info.total_token_usage`` (mapped by `codex_usage`):
        new = latest − high-water mark already counted, bucket by bucket, never negative. Rows
        that repeat earlier totals (a forked rollout replaying history, or the repeated
        token_count events Codex emits for rate-limit updates) therefore add nothing;
        ``info: null`` rows are skipped. The cwd is the first ``session_meta`` payload's
        ``cwd`` (None until seen). Returns ``(Usage(), cwd)`` for a missing file. Raises OSError
        if the file exists but cannot be read; ValueError if ``path`` was read as Claude.
        """
        got = Usage()
        for fs, buf, end in self._chunks(path, "codex"):
            if fs.session_id is None and fs.cwd is None:
                for line in _lines_with(buf, end, CODEX_SESSION_META_MARKER):
                    self._codex_meta(fs, line)
            for line in _lines_with(buf, end, CODEX_TOKEN_COUNT_MARKER):
                got = got + self._codex_line(fs, line)
        known = self._files.get(os.path.abspath(path))
        return got, (known.cwd if known else None)

    def _chunks(self, path: Path | str, kind: str) -> Iterator[tuple[_FileState, bytes, int]]:
        """Yield (state, buffer, end): ``buffer[:end]`` is the next run of complete lines.

        The offset advances once the consumer asks for the next chunk, i.e. after it has
        counted the previous one. A missing file yields nothing and leaves no state.
        """
        key = os.path.abspath(path)
        fs = self._files.get(key)
        if fs is not None and fs.kind != kind:
            raise ValueError(f"{key} was read as a {fs.kind} transcript, not {kind}")
        try:
            chunks = read_chunks(key, fs.pos if fs is not None else Position())
        except FileNotFoundError:
            return
        if fs is None:
            fs = self._files[key] = _FileState(kind=kind, pos=chunks.position)
        for buf, end in chunks:
            yield fs, buf, end
            self.bytes_read += end

    def _parse(self, line: bytes) -> dict | None:
        try:
            rec = json.loads(line)
        except ValueError:  # JSONDecodeError, or UnicodeDecodeError on bad bytes
            rec = None
        if not isinstance(rec, dict):
            self.skipped_lines += 1
            return None
        return rec

    def _claude_line(self, fs: _FileState, line: bytes) -> Usage:
        rec = self._parse(line)
        if rec is None or rec.get("type") != "assistant":
            return _ZERO
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return _ZERO
        if is_claude_synthetic(rec, msg):
            return _ZERO  # API errors: no tokens were billed, whatever the usage says
        usage = claude_usage(msg.get("usage"))
        if usage is None:
            return _ZERO
        if fs.session_id is None:
            fs.session_id = claude_session_id(rec)
        key = claude_usage_key(rec, msg)
        if key is None:
            return usage
        prev = fs.keys.get(key)
        if prev is None:
            fs.keys[key] = usage
            if len(fs.keys) > self.max_keys:
                fs.keys.popitem(last=False)
            return usage
        fs.keys.move_to_end(key)
        if usage.total > prev.total:
            fs.keys[key] = usage
            return usage - prev
        return _ZERO

    def _codex_meta(self, fs: _FileState, line: bytes) -> None:
        rec = self._parse(line)
        meta = codex_session_meta(rec) if rec is not None else None
        if meta is None or fs.session_id is not None:
            return
        fs.session_id, fs.cwd, fs.forked_from = meta.id, meta.cwd, meta.forked_from_id

    def _codex_line(self, fs: _FileState, line: bytes) -> Usage:
        rec = self._parse(line)
        total = codex_usage(codex_total_tokens(rec)) if rec is not None else None
        if total is None:
            return _ZERO
        new = total.maximum(fs.counted)
        delta, fs.counted = new - fs.counted, new
        return delta


def _jsonl_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(p.rglob("*.jsonl"))
        elif p.exists():
            files = [p]
        else:
            raise FileNotFoundError(f"no such transcript file or folder: {p}")
        for f in files:
            key = os.path.abspath(f)
            if key not in seen and f.is_file():
                seen.add(key)
                yield f


def scan_paths(paths: Iterable[Path | str]) -> dict[str, Usage]:
    """Full read of transcript files / folders (recursive ``*.jsonl``), for ``tokens --scan``.

    Each file is classified by `detect_kind` (unrecognised files are skipped) and read with the
    same readers as the live path. Key = session id: Claude ``sessionId`` (file stem without
    one; sub-agent files carry their parent's id and add to it), Codex ``session_meta.id`` (else
    the id in ``rollout-<ts>-<id>.jsonl``, else the stem). Raises FileNotFoundError for a
    path that does not exist.
    """
    scanner = TranscriptScanner()
    totals: dict[str, Usage] = {}
    for f in _jsonl_files(paths):
        kind = detect_kind(f)
        if kind == "claude":
            got = scanner.read_claude(f)
        elif kind == "codex":
            got, _ = scanner.read_codex(f)
        else:
            continue
        sid = scanner.session_id(f) or (rollout_id(f.stem) if kind == "codex" else None) or f.stem
        totals[sid] = totals.get(sid, _ZERO) + got
    return totals
