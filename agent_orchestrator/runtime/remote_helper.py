"""The file reader and writer run on a `[[host]]`: `python3 -c <this file's text> OP`, request on stdin.

It runs on the remote machine with only the standard library (Python 3.8+), sent along with each
call (`runtime.files.RemoteFiles`), so nothing of ours needs to be installed there and a newer
watchdog never talks to an older copy. A path starting with `~/` is the remote user's HOME. Ops:

- `info`: `{}` → `{"home": "/home/me", "python": "3.11.2", "uid": 1000}`.
- `read`: `{"paths": [...]}` → `{"texts": {path: text or null}}` (null: missing or unreadable).
- `write`: `{"files": [{"path", "text", "mode", "only_missing"} or {"path", "remove": true}]}` →
  `{"written": [path, ...]}`; each file is written atomically (temp file + rename), its folders
  made (0700); `remove` deletes one (missing is fine).
- `sync`: incremental reads for local mirrors (`runtime.mirror`). Request: `offsets` {path: bytes
  already copied}, `reads` [path] (read from their offset), `globs` [{dir, pattern, recursive,
  cwd_in}] (files to read as well; with `cwd_in` only Codex rollouts whose first line's
  `session_meta` cwd is one of those), `known` {path: accepted?} (first lines already judged),
  `whole` [{path, pid}] (small files read whole — only while process `pid` is alive). Reply: one
  JSON line `{"files": [{path, size, start, length, mtime}], "missing": [...], "rejected":
  [...]}` and then the `length` bytes of each file, in order. A read starts over at 0 when the
  file shrank below its offset or the byte before the offset is not a line break (rewritten); it
  stops at the last complete line and after `CHUNK` bytes per file (the rest comes next time).
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
from typing import IO, Any

CHUNK = 8 << 20  # bytes per file per sync; a longer backlog arrives over a few ticks


def _path(raw: str) -> str:
    return os.path.expanduser(raw) if raw.startswith("~") else raw


def _read_text(path: str) -> str | None:
    try:
        with open(_path(path), encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _write(entry: dict[str, Any]) -> bool:
    path = _path(entry["path"])
    if entry.get("remove"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    if entry.get("only_missing") and os.path.exists(path):
        return False
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ao-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(entry["text"])
        os.chmod(tmp, int(entry.get("mode", 0o600)))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def _first_cwd(path: str) -> str | None:
    """The cwd of a Codex rollout's session_meta first line; "" when it has none (yet)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 20)
    except OSError:
        return ""
    if not first.endswith(b"\n"):
        return None  # still being written: judge it later
    try:
        record = json.loads(first)
    except ValueError:
        return ""
    payload = record.get("payload") if isinstance(record, dict) else None
    cwd = payload.get("cwd") if isinstance(payload, dict) else None
    return cwd if isinstance(cwd, str) else ""


def _glob(spec: dict[str, Any], known: dict[str, bool], rejected: list[str]) -> list[str]:
    raw_dir = spec["dir"]
    folder = _path(raw_dir)
    pattern = os.path.join(glob.escape(folder), "**", spec["pattern"]) if spec.get("recursive") else \
        os.path.join(glob.escape(folder), spec["pattern"])
    found = []
    for real in sorted(glob.glob(pattern, recursive=bool(spec.get("recursive")))):
        if not os.path.isfile(real):
            continue
        shown = raw_dir + real[len(folder):] if real.startswith(folder) else real
        wanted = spec.get("cwd_in")
        if wanted is not None:
            verdict = known.get(shown)
            if verdict is None:
                cwd = _first_cwd(real)
                if cwd is None:
                    continue
                verdict = cwd in wanted or os.path.realpath(cwd) in wanted
            if not verdict:
                rejected.append(shown)
                continue
        found.append(shown)
    return found


def _chunk(path: str, offset: int) -> tuple[int, int, bytes, float]:
    """(size, start, data, mtime) of what follows `offset` in `path`, whole lines only."""
    with open(_path(path), "rb") as fh:
        st = os.fstat(fh.fileno())
        size = st.st_size
        start = offset
        if size < offset:
            start = 0
        elif offset > 0:
            fh.seek(offset - 1)
            if fh.read(1) != b"\n":
                start = 0
        fh.seek(start)
        data = fh.read(min(size - start, CHUNK))
        end = data.rfind(b"\n") + 1
        while end == 0 and len(data) < size - start:  # one line longer than a chunk: read it whole
            data += fh.read(CHUNK)
            end = data.rfind(b"\n") + 1
        return size, start, data[:end], st.st_mtime


def _alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[call-overload]
    except (OSError, ValueError):
        return False
    return True


def _sync(request: dict[str, Any], out: IO[bytes]) -> None:
    offsets = request.get("offsets") or {}
    known = request.get("known") or {}
    rejected: list[str] = []
    paths = list(request.get("reads") or [])
    for spec in request.get("globs") or []:
        paths += [p for p in _glob(spec, known, rejected) if p not in paths]
    files, blobs, missing = [], [], []
    for path in paths:
        try:
            size, start, data, mtime = _chunk(path, int(offsets.get(path, 0)))
        except OSError:
            missing.append(path)
            continue
        files.append({"path": path, "size": size, "start": start, "length": len(data), "mtime": mtime})
        blobs.append(data)
    for entry in request.get("whole") or []:
        pid = entry.get("pid")
        whole: bytes | None = None
        if pid is None or _alive(pid):
            try:
                with open(_path(entry["path"]), "rb") as fh:
                    whole = fh.read(1 << 20)
            except OSError:
                whole = None
        if whole is None:
            missing.append(entry["path"])
            continue
        files.append({"path": entry["path"], "size": len(whole), "start": 0, "length": len(whole), "mtime": 0, "whole": True})
        blobs.append(whole)
    head = {"files": files, "missing": missing, "rejected": rejected}
    out.write(json.dumps(head).encode() + b"\n")
    for blob in blobs:
        out.write(blob)


def main(argv: list[str]) -> int:
    op = argv[0] if argv else ""
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    out = sys.stdout.buffer
    reply: dict[str, Any]
    if op == "info":
        reply = {"home": os.path.expanduser("~"), "python": ".".join(map(str, sys.version_info[:3])), "uid": os.geteuid()}
    elif op == "read":
        reply = {"texts": {p: _read_text(p) for p in request.get("paths") or []}}
    elif op == "write":
        reply = {"written": [f["path"] for f in request.get("files") or [] if _write(f)]}
    elif op == "sync":
        _sync(request, out)
        out.flush()
        return 0
    else:
        sys.stderr.write(f"agent-orchestrator remote helper: unknown op {op!r}\n")
        return 2
    out.write(json.dumps(reply).encode() + b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
