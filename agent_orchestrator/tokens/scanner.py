"""Incremental token readers for Claude Code transcripts and Codex rollouts.

Claude Code 2.1.197: ``$HOME/.claude/projects/<slug>/<sessionId>.jsonl``; ``type: "assistant"``
records carry ``message.usage``; one API response is several lines (one per content block)
sharing ``message.id`` and ``requestId``, early ones with a streaming snapshot of
``output_tokens``; API errors are assistant records with ``isApiErrorMessage: true`` and model
``<synthetic>``. Codex CLI 0.169.0: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl``,
lines ``{"timestamp", "type", "payload"}``: ``session_meta`` (``id``, ``cwd``, for a fork
``forked_from_id``) and ``event_msg``/``token_count`` whose ``info`` (may be null) holds the
cumulative ``total_token_usage``. Offsets are remembered, so a call costs what was appended.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_orchestrator.tokens.usage import Usage, claude_usage, codex_usage

STATE_VERSION = 1
#: Bytes per read; large reads keep a 1 GB scan in C-level `bytes.find`, not Python loops.
CHUNK_BYTES = 8 << 20
#: Claude de-duplication keys remembered per file. The lines of one response are written
#: together, so a few hundred is far more than needed and bounds state for endless sessions.
DEFAULT_MAX_KEYS = 512

_ZERO = Usage()
_CLAUDE_MARKER = b'"usage"'
_CLAUDE_ROLE = b'"assistant"'
_CODEX_TOKENS = b'"token_count"'
_CODEX_META = b'"session_meta"'
_CLAUDE_TYPES = frozenset(
    {"user", "assistant", "attachment", "system", "summary", "file-history-snapshot",
     "mode", "permission-mode", "queue-operation", "last-prompt"}
)  # fmt: skip
_ROLLOUT_ID = re.compile(
    r"rollout-.*?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
_SLUG_MAX = 200


def claude_slug(cwd: Path | str) -> str:
    """Claude Code's project folder name for a working directory.

    Every character outside ``[A-Za-z0-9]`` (so ``/``, ``.``, ``_``, spaces, …; counted per
    UTF-16 unit, as JavaScript does) becomes ``-``. Past 200 characters Claude keeps the first
    200 and appends ``-`` + base-36 of ``abs(int32 hash)`` of the original path. Read from the
    Claude Code 2.1.197 binary (its ``sanitizePath``). Pass the resolved absolute path.

    >>> claude_slug("/work/my_app.v2")
    '-work-my-app-v2'
    """
    text = str(cwd)
    units = text.encode("utf-16-le")
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    slug = "".join(chr(c) if c < 128 and chr(c).isalnum() else "-" for c in codes)
    if len(slug) <= _SLUG_MAX:
        return slug
    h = 0
    for c in codes:  # JavaScript: h = (h << 5) - h + c | 0
        h = ((h << 5) - h + c) & 0xFFFFFFFF
    h = abs(h - (1 << 32) if h >= 1 << 31 else h)
    return f"{slug[:_SLUG_MAX]}-{_base36(h)}"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def claude_project_dir(home: Path, cwd: Path) -> Path:
    """``home/.claude/projects/<claude_slug(cwd)>``: where Claude Code writes cwd's sessions.

    (``CLAUDE_CONFIG_DIR``, when set, replaces ``home/.claude``; pass that case yourself.)
    """
    return Path(home) / ".claude" / "projects" / claude_slug(cwd)


@dataclass
class _FileState:
    """What the scanner remembers about one file (byte offsets; token counts)."""

    kind: str  # "claude" | "codex"
    inode: int = 0
    offset: int = 0  # bytes consumed; always just after a "\n"
    session_id: str | None = None
    # claude: de-duplication key -> usage already counted for it, oldest sighting first
    keys: OrderedDict[str, Usage] = field(default_factory=OrderedDict)
    # codex: high-water mark of the cumulative total_token_usage already counted
    counted: Usage = _ZERO
    cwd: str | None = None
    forked_from: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "inode": self.inode, "offset": self.offset,
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
        fs = cls(kind=d["kind"], inode=int(d["inode"]), offset=int(d["offset"]),
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
            with open(key, "rb") as f:
                st = os.fstat(f.fileno())
                end = st.st_size
                while end > 0:
                    start = max(0, end - CHUNK_BYTES)
                    f.seek(start)
                    cut = f.read(end - start).rfind(b"\n")
                    if cut >= 0:
                        end = start + cut + 1
                        break
                    end = start
        except FileNotFoundError:
            return
        self._files[key] = _FileState(kind="claude", inode=st.st_ino, offset=end)
        self.bytes_read += end

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
            for line in _lines_with(buf, end, _CLAUDE_MARKER):
                if _CLAUDE_ROLE in line:
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
                for line in _lines_with(buf, end, _CODEX_META):
                    self._codex_meta(fs, line)
            for line in _lines_with(buf, end, _CODEX_TOKENS):
                got = got + self._codex_line(fs, line)
        known = self._files.get(os.path.abspath(path))
        return got, (known.cwd if known else None)

    def _chunks(self, path: Path | str, kind: str) -> Iterator[tuple[_FileState, bytes, int]]:
        """Yield (state, buffer, end): ``buffer[:end]`` is the next run of complete lines.

        The offset advances once the consumer asks for the next chunk, i.e. after it has
        counted the previous one.
        """
        key = os.path.abspath(path)
        fs = self._files.get(key)
        if fs is not None and fs.kind != kind:
            raise ValueError(f"{key} was read as a {fs.kind} transcript, not {kind}")
        try:
            f = open(key, "rb", buffering=0)  # noqa: SIM115 - closed in finally below
        except FileNotFoundError:
            return
        try:
            st = os.fstat(f.fileno())
            if fs is None:
                fs = self._files[key] = _FileState(kind=kind, inode=st.st_ino)
            moved = fs.inode != st.st_ino or st.st_size < fs.offset
            if not moved and fs.offset:  # the offset always follows a "\n" unless rewritten
                f.seek(fs.offset - 1)
                moved = f.read(1) != b"\n"
            if moved:  # replaced, truncated or rewritten: read again from the start
                fs.inode, fs.offset = st.st_ino, 0
            f.seek(fs.offset)
            carry = b""
            while chunk := f.read(CHUNK_BYTES):
                buf = carry + chunk if carry else chunk
                end = buf.rfind(b"\n") + 1
                if end == 0:  # no complete line yet (one line longer than a chunk)
                    carry = buf
                    continue
                yield fs, buf, end
                fs.offset += end
                self.bytes_read += end
                carry = buf[end:]
        finally:
            f.close()

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
        if rec.get("isApiErrorMessage") is True or msg.get("model") == "<synthetic>":
            return _ZERO  # API errors: no tokens were billed, whatever the usage says
        usage = claude_usage(msg.get("usage"))
        if usage is None:
            return _ZERO
        sid = rec.get("sessionId")
        if fs.session_id is None and isinstance(sid, str) and sid:
            fs.session_id = sid
        mid, rid = msg.get("id"), rec.get("requestId")
        if not isinstance(mid, str) or not mid:
            return usage
        key = f"{mid}:{rid}" if isinstance(rid, str) and rid else mid
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
        payload = rec.get("payload") if rec and rec.get("type") == "session_meta" else None
        if not isinstance(payload, dict) or fs.session_id is not None:
            return
        sid, cwd, parent = payload.get("id"), payload.get("cwd"), payload.get("forked_from_id")
        fs.session_id = sid if isinstance(sid, str) and sid else None
        fs.cwd = cwd if isinstance(cwd, str) else None
        fs.forked_from = parent if isinstance(parent, str) else None

    def _codex_line(self, fs: _FileState, line: bytes) -> Usage:
        rec = self._parse(line)
        if rec is None or rec.get("type") != "event_msg":
            return _ZERO
        payload = rec.get("payload")
        if not isinstance(payload, dict) or payload.get("type") != "token_count":
            return _ZERO
        info = payload.get("info")
        total = codex_usage(info.get("total_token_usage")) if isinstance(info, dict) else None
        if total is None:
            return _ZERO
        new = total.maximum(fs.counted)
        delta, fs.counted = new - fs.counted, new
        return delta


def detect_kind(path: Path | str) -> str | None:
    """``"claude"``, ``"codex"`` or None, from the file name and its first records.

    Codex lines are ``{"timestamp", "type", "payload"}``; Claude records carry ``sessionId`` or
    one of Claude's record types. Reads at most the first 1 MiB.
    """
    path = Path(path)
    if path.name.startswith("rollout-"):
        return "codex"
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    for line in head.split(b"\n")[:32]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if "payload" in rec and "timestamp" in rec:
            return "codex"
        if "sessionId" in rec or rec.get("type") in _CLAUDE_TYPES:
            return "claude"
    return None


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
        sid = scanner.session_id(f)
        if sid is None:
            m = _ROLLOUT_ID.search(f.stem) if kind == "codex" else None
            sid = m.group(1) if m else f.stem
        totals[sid] = totals.get(sid, _ZERO) + got
    return totals
