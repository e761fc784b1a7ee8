"""File access on the machine an agent runs on: this one (`LocalFiles`) or a `[[host]]` (`RemoteFiles`).

The seam between what the orchestrator writes and reads next to an agent — launch specs, scratch
HOMEs, hook settings, prompt files — and where that machine is. Every operation takes many paths
at once, so preparing a remote agent costs one ssh call to read and one to write, whatever it
touches. Paths are strings in the target machine's terms (`~/` = its user's HOME on a host).

Incremental reads of files that grow (hook events, transcripts) go through `RemoteFiles.sync`,
used by `runtime.mirror` to keep local copies; a local agent's files are read where they are.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent_orchestrator.runtime.ssh import HostUnreachable, SshTransport

HELPER_SOURCE = (Path(__file__).with_name("remote_helper.py")).read_text(encoding="utf-8")


class Files(Protocol):
    """Reading and writing small files on one machine."""

    def read_texts(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path's text (UTF-8), None when it is missing or unreadable."""
        ...

    def write_texts(self, files: Mapping[str, str], *, mode: int = 0o600, only_missing: bool = False) -> list[str]:
        """Write each file atomically (folders made as needed), with `mode`; with `only_missing`
        a file that exists is left alone. Returns the paths written. Raises OSError."""
        ...


class LocalFiles:
    """`Files` on this machine."""

    def read_texts(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path's text (UTF-8), None when it is missing or unreadable."""
        out: dict[str, str | None] = {}
        for path in paths:
            try:
                out[path] = Path(path).expanduser().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                out[path] = None
        return out

    def write_texts(self, files: Mapping[str, str], *, mode: int = 0o600, only_missing: bool = False) -> list[str]:
        """Write each file atomically (temp file + rename); see `Files.write_texts`."""
        written = []
        for raw, text in files.items():
            path = Path(raw).expanduser()
            if only_missing and path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ao-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written.append(raw)
        return written


@dataclass(frozen=True)
class Chunk:
    """What a sync brought for one remote file: `data` read from byte `start` (0 = from the
    beginning again: the file is new, was replaced or shrank), the file's `size` and `mtime`
    (epoch seconds) on the host; `whole` for a file read whole every time."""

    path: str
    start: int
    data: bytes
    size: int
    mtime: float
    whole: bool = False


@dataclass(frozen=True)
class SyncResult:
    """A sync's chunks, the paths that are missing on the host, and the rollouts a `cwd_in` glob
    turned down (so they are not judged again)."""

    chunks: list[Chunk] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


class RemoteFiles:
    """`Files` on a `[[host]]`, through its ssh transport and `python` (runtime/remote_helper.py is
    sent along with each call). Raises HostUnreachable when the host does not answer, OSError
    when the helper fails there."""

    def __init__(self, transport: SshTransport, python: str = "python3") -> None:
        self.transport = transport
        self.python = python

    def call(self, op: str, request: Mapping[str, Any], *, timeout: float | None = None) -> bytes:
        """Run the helper's `op` with `request` (JSON on its stdin); its stdout. Raises
        HostUnreachable, or OSError naming the host when the helper fails."""
        result = self.transport.run([self.python, "-c", HELPER_SOURCE, op], stdin=json.dumps(request).encode(), timeout=timeout)
        if result.returncode != 0:
            raise OSError(f"host {self.transport.name}: {self.python} failed ({result.returncode}): {result.error()[-300:] or 'no output'}")
        return result.stdout

    def _json(self, op: str, request: Mapping[str, Any]) -> dict[str, Any]:
        raw = self.call(op, request)
        try:
            reply = json.loads(raw)
        except ValueError:
            raise OSError(f"host {self.transport.name}: the file helper answered {raw[:120]!r}") from None
        if not isinstance(reply, dict):
            raise OSError(f"host {self.transport.name}: the file helper answered {raw[:120]!r}")
        return reply

    def info(self) -> dict[str, Any]:
        """`{"home": <remote HOME>, "python": <version>, "uid": <effective uid>}`."""
        return self._json("info", {})

    def read_texts(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path's text on the host, None when missing (one ssh call)."""
        if not paths:
            return {}
        texts = self._json("read", {"paths": list(paths)}).get("texts") or {}
        return {p: texts.get(p) if isinstance(texts.get(p), str) else None for p in paths}

    def write_texts(self, files: Mapping[str, str], *, mode: int = 0o600, only_missing: bool = False) -> list[str]:
        """Write the files on the host atomically (one ssh call); see `Files.write_texts`."""
        if not files:
            return []
        return self.write_entries([{"path": p, "text": t, "mode": mode, "only_missing": only_missing} for p, t in files.items()])

    def write_entries(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Apply remote_helper `write` entries (`{path, text, mode, only_missing}` or `{path,
        remove: true}`) in one ssh call; the paths written or removed."""
        written = self._json("write", {"files": [dict(e) for e in entries]}).get("written") or []
        return [str(p) for p in written]

    def sync(self, *, offsets: Mapping[str, int], reads: Sequence[str] = (), globs: Sequence[Mapping[str, Any]] = (),
             known: Mapping[str, bool] | None = None, whole: Sequence[Mapping[str, Any]] = ()) -> SyncResult:
        """One incremental read of many files (see remote_helper's `sync`): what each gained past
        its offset, whole lines only. Raises HostUnreachable or OSError."""
        raw = self.call("sync", {"offsets": dict(offsets), "reads": list(reads), "globs": [dict(g) for g in globs],
                                 "known": dict(known or {}), "whole": [dict(w) for w in whole]})
        cut = raw.find(b"\n")
        try:
            head = json.loads(raw[:cut]) if cut >= 0 else None
        except ValueError:
            head = None
        if not isinstance(head, dict):
            raise OSError(f"host {self.transport.name}: the file helper answered {raw[:120]!r}")
        chunks = []
        at = cut + 1
        for entry in head.get("files") or []:
            length = int(entry["length"])
            data = raw[at:at + length]
            if len(data) != length:
                raise OSError(f"host {self.transport.name}: a sync reply was cut short")
            at += length
            chunks.append(Chunk(str(entry["path"]), int(entry["start"]), data, int(entry["size"]), float(entry.get("mtime") or 0),
                                bool(entry.get("whole"))))
        return SyncResult(chunks, [str(p) for p in head.get("missing") or []], [str(p) for p in head.get("rejected") or []])


__all__ = ["Chunk", "Files", "HostUnreachable", "LocalFiles", "RemoteFiles", "SyncResult"]
