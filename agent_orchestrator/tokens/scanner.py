"""Incremental token readers for Claude Code transcripts and Codex rollouts.

Checked against Claude Code 2.1.197 and Codex CLI 0.169.0; what their records mean (API errors,
the de-duplication key, ``session_meta``, cumulative ``token_count``) is in
`transcripts.records`, and files are read with `transcripts.tail.read_chunks`. Claude: one API
response is several ``assistant`` lines sharing a key, early ones with a streaming snapshot of
``output_tokens``; the largest total per key counts once. Codex: ``token_count`` events carry a
cumulative total; what exceeds the high-water mark counts. Offsets are remembered, so a call
costs what was appended.

Only lines carrying a byte marker are decoded (with orjson; see `_loads`). `scan_paths`, the full
read behind ``tokens --scan``, spreads the files over forked worker processes; the live path (the
watchdog's ledger) reads in-process.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from agent_orchestrator.tokens.usage import Usage, claude_usage, codex_usage
from agent_orchestrator.transcripts.records import (
    CLAUDE_ASSISTANT_MARKER,
    CLAUDE_USAGE_MARKER,
    CODEX_MODEL_OUTPUTS,
    CODEX_SESSION_META_MARKER,
    CODEX_TOKEN_COUNT_MARKER,
    claude_session_id,
    claude_usage_key,
    codex_session_meta,
    codex_total_tokens,
    detect_kind,
    is_claude_synthetic,
    record_time,
    rollout_id,
)
from agent_orchestrator.transcripts.tail import Position, end_position, read_chunks

STATE_VERSION = 1
#: Claude de-duplication keys remembered per file. The lines of one response are written
#: together, so a few hundred is far more than needed and bounds state for endless sessions.
DEFAULT_MAX_KEYS = 512
#: `scan_paths` starts one worker process per this many bytes of transcripts (up to the CPUs it
#: may use); below twice this it reads in-process, where a pool would cost more than it saves.
SCAN_BYTES_PER_WORKER = 16 << 20

_ZERO = Usage()
_orjson_loads = orjson.loads
#: Token counts (input, output, cache_read, cache_write), as a plain tuple on the hot path.
_Counts = tuple[int, int, int, int]
#: What the timed readers return per record that added tokens: (its time, epoch seconds, or None
#: when the record carries none; the tokens it added).
Dated = tuple[float | None, Usage]
_CODEX_ITEM = b'"payload":{"type":"'
_CODEX_TIME = b'{"timestamp":"'


@dataclass
class _FileState:
    """What the scanner remembers about one file (byte offsets; token counts)."""

    kind: str  # "claude" | "codex"
    pos: Position = field(default_factory=Position)  # inode and bytes consumed (after a "\n")
    session_id: str | None = None
    # claude: de-duplication key -> counts already counted for it, oldest sighting first
    keys: OrderedDict[str, _Counts] = field(default_factory=OrderedDict)
    # codex: high-water mark of the cumulative total_token_usage already counted
    counted: Usage = _ZERO
    cwd: str | None = None
    forked_from: str | None = None
    # codex: time (epoch) of the last model output not yet followed by the token_count it caused
    dated: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "inode": self.pos.inode or 0, "offset": self.pos.offset,
                             "session_id": self.session_id}  # fmt: skip
        if self.kind == "claude":
            d["keys"] = [[k, *c] for k, c in self.keys.items()]
        else:
            d.update(counted=self.counted.to_dict(), cwd=self.cwd,
                     forked_from=self.forked_from)  # fmt: skip
            if self.dated is not None:
                d["dated"] = self.dated
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> _FileState:
        fs = cls(kind=d["kind"], pos=Position(inode=int(d["inode"]), offset=int(d["offset"])),
                 session_id=d.get("session_id"))  # fmt: skip
        if fs.kind == "claude":
            fs.keys = OrderedDict((str(k), _counts(Usage(*map(int, v)))) for k, *v in d.get("keys", []))
        elif fs.kind == "codex":
            fs.counted = Usage.from_dict(d.get("counted") or {})
            fs.cwd, fs.forked_from = d.get("cwd"), d.get("forked_from")
            dated = d.get("dated")
            fs.dated = float(dated) if isinstance(dated, (int, float)) and not isinstance(dated, bool) else None
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


def _counts(u: Usage) -> _Counts:
    return (u.input, u.output, u.cache_read, u.cache_write)


def _loads(line: bytes | memoryview) -> Any:
    """``json.loads(line)``, decoded by orjson; None when the line is not JSON (or not UTF-8).

    orjson rejects a few things the standard library accepts (NaN and Infinity, lone
    surrogates, a byte-order mark, numbers beyond the float range): such a line is decoded again
    with `json`, so a line is skipped exactly when `json.loads` would reject it. The one value
    orjson decodes differently, an integer beyond 64 bits (a float), is handled where token
    counts are read (`_claude_counts`, `_codex_total`).
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(bytes(line))
    except ValueError:  # JSONDecodeError, or UnicodeDecodeError on bad bytes
        return None


def _claude_counts(usage: dict[str, Any], line: bytes | memoryview) -> _Counts:
    """`claude_usage` of a decoded ``message.usage`` object, as a tuple; plain counts fast.

    A float among the counts may be orjson's reading of an integer beyond 64 bits: the line's
    usage is then taken from `json` (which keeps the integer), as before orjson.
    """
    a, b = usage.get("input_tokens"), usage.get("output_tokens")
    c, d = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
    if type(a) is int and type(b) is int and type(c) is int and type(d) is int and min(a, b, c, d) >= 0:
        return (a, b, c, d)
    if float in (type(a), type(b), type(c), type(d)):
        rec = json.loads(bytes(line))
        usage = rec["message"]["usage"]
    u = claude_usage(usage)
    return _counts(u) if u is not None else (0, 0, 0, 0)


def _codex_total(rec: dict[str, Any], line: bytes | memoryview) -> Any:
    """`codex_total_tokens` of a record, from `json` when a count may be a 64-bit overflow."""
    raw = codex_total_tokens(rec)
    if isinstance(raw, dict) and any(type(v) is float for v in raw.values()):
        raw = codex_total_tokens(json.loads(bytes(line)))
    return raw


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
        n_in = n_out = n_read = n_write = 0
        for fs, buf, end in self._chunks(path, "claude"):
            # `_lines_with` inlined: this loop is the whole cost of a full read
            find, rfind, view = buf.find, buf.rfind, memoryview(buf)
            pos = 0
            while (hit := find(CLAUDE_USAGE_MARKER, pos, end)) >= 0:
                start = rfind(b"\n", 0, hit) + 1
                stop = find(b"\n", hit, end)
                if stop < 0:
                    stop = end
                pos = stop + 1
                # Claude Code writes "type":"assistant" near the end of a record: look from there
                if rfind(CLAUDE_ASSISTANT_MARKER, start, stop) < 0:
                    continue
                got = self._claude_line(fs, view[start:stop])
                if got is not None:
                    n_in += got[0]
                    n_out += got[1]
                    n_read += got[2]
                    n_write += got[3]
        return Usage(n_in, n_out, n_read, n_write)

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

    def read_dated(self, path: Path | str, kind: str) -> list[Dated]:
        """What `read_claude` / `read_codex` would count in ``path`` since the last call, split by
        record and dated by each record's own time (`records.record_time`), for per-gate accounting.

        Claude Code (2.1.197, 2.1.332): each ``assistant`` line that adds tokens is dated by its
        ``timestamp``, written when the response (or its content block) arrived. Codex (0.169.0,
        0.171.0): a ``token_count`` event is written after the tool the response called has run,
        so its tokens are dated by the last model output before it (a reply, tool call or
        reasoning item, `records.CODEX_MODEL_OUTPUTS`), else by its own ``timestamp``. The sum of
        the entries equals what the plain readers return; the de-duplication state is shared with
        them. ``kind`` is "claude" or "codex"; raises like the plain readers.
        """
        out: list[Dated] = []
        if kind == "claude":
            for fs, buf, end in self._chunks(path, "claude"):
                for line in _lines_with(buf, end, CLAUDE_USAGE_MARKER):
                    if CLAUDE_ASSISTANT_MARKER not in line:
                        continue
                    got = self._claude_line(fs, line)
                    if got is not None and any(got):
                        rec = _loads(line)
                        out.append((record_time(rec) if isinstance(rec, dict) else None, Usage(*got)))
            return out
        for fs, buf, end in self._chunks(path, "codex"):
            if fs.session_id is None and fs.cwd is None:
                for line in _lines_with(buf, end, CODEX_SESSION_META_MARKER):
                    self._codex_meta(fs, line)
            for line in buf[:end].split(b"\n"):
                if CODEX_TOKEN_COUNT_MARKER in line:
                    rec = self._parse(line)
                    delta = self._codex_rec(fs, rec, line) if rec is not None else _ZERO
                    if delta:
                        out.append((fs.dated if fs.dated is not None else (record_time(rec) if rec else None), delta))
                        fs.dated = None
                elif _is_codex_output(line):
                    when = _codex_line_time(line)
                    if when is not None:
                        fs.dated = when
        return out

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

    def _parse(self, line: bytes | memoryview) -> dict | None:
        rec = _loads(line)
        if not isinstance(rec, dict):
            self.skipped_lines += 1
            return None
        return rec

    def _claude_line(self, fs: _FileState, line: bytes | memoryview) -> _Counts | None:
        """The counts one ``assistant`` line adds (None: nothing), remembering its key."""
        try:
            rec = _orjson_loads(line)  # `_parse`, inlined for the common case
        except orjson.JSONDecodeError:
            rec = _loads(line)
        if not isinstance(rec, dict):
            self.skipped_lines += 1
            return None
        if rec.get("type") != "assistant":
            return None
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return None
        if is_claude_synthetic(rec, msg):
            return None  # API errors: no tokens were billed, whatever the usage says
        usage = msg.get("usage")
        if not isinstance(usage, dict):
            return None
        a, b = usage.get("input_tokens"), usage.get("output_tokens")
        c, d = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
        if type(a) is int and type(b) is int and type(c) is int and type(d) is int and a >= 0 and b >= 0 and c >= 0 and d >= 0:
            new = (a, b, c, d)  # `_claude_counts`' common case, inlined
        else:
            new = _claude_counts(usage, line)
        if fs.session_id is None:
            fs.session_id = claude_session_id(rec)
        key = claude_usage_key(rec, msg)
        if key is None:
            return new
        keys = fs.keys
        prev = keys.get(key)
        if prev is None:
            keys[key] = new
            if len(keys) > self.max_keys:
                keys.popitem(last=False)
            return new
        keys.move_to_end(key)
        if new[0] + new[1] + new[2] + new[3] > prev[0] + prev[1] + prev[2] + prev[3]:
            keys[key] = new
            return (new[0] - prev[0], new[1] - prev[1], new[2] - prev[2], new[3] - prev[3])
        return None

    def _codex_meta(self, fs: _FileState, line: bytes) -> None:
        rec = self._parse(line)
        meta = codex_session_meta(rec) if rec is not None else None
        if meta is None or fs.session_id is not None:
            return
        fs.session_id, fs.cwd, fs.forked_from = meta.id, meta.cwd, meta.forked_from_id

    def _codex_line(self, fs: _FileState, line: bytes) -> Usage:
        rec = self._parse(line)
        return self._codex_rec(fs, rec, line) if rec is not None else _ZERO

    def _codex_rec(self, fs: _FileState, rec: dict, line: bytes) -> Usage:
        total = codex_usage(_codex_total(rec, line))
        if total is None:
            return _ZERO
        new = total.maximum(fs.counted)
        delta, fs.counted = new - fs.counted, new
        return delta


def _is_codex_output(line: bytes) -> bool:
    """Whether a Codex rollout line is a model output item (`records.is_codex_model_output`),
    from its bytes: Codex writes ``"payload":{"type":"…"`` with the item type first, and an
    assistant message carries ``"role":"assistant"`` (quotes inside strings are escaped)."""
    i = line.find(_CODEX_ITEM)
    if i < 0 or b'"response_item"' not in line[:i]:
        return False
    start = i + len(_CODEX_ITEM)
    kind = line[start:line.find(b'"', start)].decode("ascii", "replace")
    return kind in CODEX_MODEL_OUTPUTS and (kind != "message" or b'"role":"assistant"' in line)


def _codex_line_time(line: bytes) -> float | None:
    """The ``timestamp`` of a Codex rollout line (written first: ``{"timestamp":"…"``)."""
    if line.startswith(_CODEX_TIME):
        end = line.find(b'"', len(_CODEX_TIME))
        return record_time({"timestamp": line[len(_CODEX_TIME):end].decode("ascii", "replace")})
    rec = _loads(line)
    return record_time(rec) if isinstance(rec, dict) else None


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


def scan_paths(paths: Iterable[Path | str], *, workers: int | None = None) -> dict[str, Usage]:
    """Full read of transcript files / folders (recursive ``*.jsonl``), for ``tokens --scan``.

    Each file is classified by `detect_kind` (unrecognised files are skipped) and read with the
    same readers as the live path. Key = session id: Claude ``sessionId`` (file stem without
    one; sub-agent files carry their parent's id and add to it), Codex ``session_meta.id`` (else
    the id in ``rollout-<ts>-<id>.jsonl``, else the stem). Raises FileNotFoundError for a
    path that does not exist, and what reading a file raises (OSError).

    Files are read by up to ``workers`` processes at once (default: one per
    `SCAN_BYTES_PER_WORKER` bytes, at most one per usable CPU; 1 reads in-process). Each file is
    read whole by one process (de-duplication is per file) and the results are merged in file
    order, so the totals do not depend on ``workers``. See `_scan_forked`.
    """
    files = list(_jsonl_files(paths))
    sizes = [_size(f) for f in files]
    n = _worker_count(sizes, workers)
    results = _scan_forked(files, sizes, n) if n > 1 else [_scan_file(f) for f in files]
    totals: dict[str, Usage] = {}
    for f, (kind, sid, counts) in zip(files, results, strict=True):
        if kind is None:
            continue
        sid = sid or (rollout_id(f.stem) if kind == "codex" else None) or f.stem
        totals[sid] = totals.get(sid, _ZERO) + Usage(*counts)
    return totals


_FileResult = tuple[str | None, str | None, _Counts]


def _scan_file(path: Path) -> _FileResult:
    """(kind, session id, counts) of one whole file; kind None for an unrecognised file."""
    kind = detect_kind(path)
    scanner = TranscriptScanner()
    if kind == "claude":
        got = scanner.read_claude(path)
    elif kind == "codex":
        got, _ = scanner.read_codex(path)
    else:
        return None, None, (0, 0, 0, 0)
    return kind, scanner.session_id(path), _counts(got)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _worker_count(sizes: list[int], workers: int | None) -> int:
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = min(cpus, sum(sizes) // SCAN_BYTES_PER_WORKER)
    workers = max(1, min(workers, len(sizes)))
    if workers > 1 and not (hasattr(os, "fork") and threading.active_count() == 1):
        return 1  # forking a process with other threads running is unsafe
    return workers


def _scan_forked(files: list[Path], sizes: list[int], workers: int) -> list[_FileResult]:
    """`_scan_file` of every file, shared among this process and ``workers - 1`` forked ones.

    The files are dealt largest first, each to the share with the fewest bytes so far. A child
    sends its results (or the exception it raised) back pickled through a pipe and leaves with
    `os._exit`, so nothing of the parent (buffered output, exit handlers) runs twice. A fork
    costs a few milliseconds where a `concurrent.futures` pool costs tens, against a scan of a
    few hundred. The children are killed if this process stops early (an error, Ctrl-C).
    """
    shares: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for i in sorted(range(len(files)), key=lambda i: -sizes[i]):
        k = loads.index(min(loads))
        shares[k].append(i)
        loads[k] += sizes[i]
    results: list[_FileResult | None] = [None] * len(files)
    children: list[list[int]] = []  # [pid, read end of its pipe or -1 once closed]
    try:
        for share in shares[1:]:
            r, w = os.pipe()
            try:
                pid = os.fork()
            except BaseException:
                os.close(r)
                os.close(w)
                raise
            if pid == 0:  # the child
                os.close(r)
                _child(w, [(i, files[i]) for i in share])
            os.close(w)
            children.append([pid, r])
        for i in shares[0]:
            results[i] = _scan_file(files[i])
        while children:
            child = children[0]
            pid, r = child
            child[1] = -1
            with open(r, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            children.pop(0)
            got = pickle.loads(data) if data else RuntimeError(f"scan worker {pid} died (wait status {status:#x})")
            if isinstance(got, BaseException):
                raise got
            for i, result in got:
                results[i] = result
    finally:
        for pid, r in children:  # only after an error: stop the rest
            if r >= 0:
                os.close(r)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
    return [r if r is not None else (None, None, (0, 0, 0, 0)) for r in results]


def _child(w: int, share: list[tuple[int, Path]]) -> None:
    """A forked worker: scan ``share``, write the pickled results to fd ``w``, exit.

    Ctrl-C and SIGTERM end it at once (the parent sees them too, or an empty pipe).
    """
    code = 0
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        payload = pickle.dumps([(i, _scan_file(f)) for i, f in share])
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent, which raises it
        code = 1
        try:
            payload = pickle.dumps(e)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled: send its text
            payload = pickle.dumps(RuntimeError(repr(e)))
    try:
        with open(w, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)
