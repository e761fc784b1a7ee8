"""Incremental reading of JSON-lines files that other processes append to.

One primitive, `read_chunks`, serves every reader: the events / decisions logs (`tail`), agent
transcripts rendered as a log (`transcripts.reader.TranscriptTail`) and the token scanner
(`tokens.scanner.TranscriptScanner`). It keeps a `Position` (inode, byte offset) per file, starts
over when the file was replaced, truncated or rewritten, reads in large chunks and leaves a torn
last line for the next call. Callers split and parse the lines themselves, so the token scanner
can jump between byte markers without splitting a transcript into line objects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: Bytes per read. Large enough that a 1 GB scan stays in C-level `bytes.find`, not Python
#: loops; small enough that the buffer is still in the CPU cache when the caller searches it
#: (8 MiB reads made a full scan about a third slower). A longer line is read whole.
CHUNK_BYTES = 1 << 20


@dataclass
class Position:
    """Where an incremental reader stands in one file.

    ``inode``: the file's inode when it was last opened (None: not opened yet, or not tracked,
    e.g. `tail` with a bare offset). ``offset``: bytes consumed from the start of the file. It
    always follows a ``"\\n"``, except after a ``final`` read that consumed a last line without
    one; ``at_line_end`` is False then.
    """

    inode: int | None = None
    offset: int = 0
    at_line_end: bool = True


class Chunks:
    """The complete lines after a `Position`, as ``(buffer, end)`` pairs; made by `read_chunks`.

    ``buffer[:end]`` is the next run of whole lines (it ends with ``"\\n"``, except a ``final``
    last line). ``position.offset`` moves past a run when the consumer asks for the next pair, so
    a consumer that stops early re-reads that run next time. ``reset`` is True when the position
    was moved back to 0 because the file was replaced, truncated or rewritten (callers drop what
    they built from the old content). Iterate once; the file is closed at the end (or `close`).
    """

    def __init__(self, file: IO[bytes], position: Position, reset: bool, final: bool) -> None:
        self.position, self.reset = position, reset
        self._file, self._final = file, final

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        f, pos = self._file, self.position
        try:
            # Each read starts at a line start (`os.pread` at the offset): a torn line at the end of
            # a read is read again with the next one instead of being copied in front of it.
            fd, want, carry = f.fileno(), CHUNK_BYTES, b""
            while buf := os.pread(fd, want, pos.offset):
                end = buf.rfind(b"\n") + 1
                if end == 0:
                    if len(buf) < want:  # the end of the file: a torn (or final) last line
                        carry = buf
                        break
                    want *= 2  # one line longer than the read: read it whole
                    continue
                yield buf, end
                pos.offset += end
                pos.at_line_end = True
                want = CHUNK_BYTES
            if self._final and carry.strip():
                yield carry, len(carry)
                pos.offset += len(carry)
                pos.at_line_end = False
        finally:
            f.close()

    def close(self) -> None:
        """Close the file without reading (iterating closes it by itself)."""
        self._file.close()


def read_chunks(path: Path | str, position: Position, *, final: bool = False) -> Chunks:
    """Open ``path`` and line ``position`` up with it; iterate the result for new lines.

    The position starts over at 0 (``Chunks.reset``) when the file is another one (its inode
    differs from ``position.inode``), shrank below the offset, or no longer has a ``"\\n"`` just
    before the offset (rewritten in place). ``position.inode`` is set to the open file's.
    ``final=True`` also yields a last line without ``"\\n"`` (the file is complete) unless it is
    blank. Raises OSError (FileNotFoundError when the file is missing) at the call, not later.
    """
    f = open(path, "rb", buffering=0)  # noqa: SIM115 - Chunks closes it
    try:
        st = os.fstat(f.fileno())
        moved = position.inode not in (None, st.st_ino) or st.st_size < position.offset
        if not moved and position.offset and position.at_line_end:
            f.seek(position.offset - 1)
            moved = f.read(1) != b"\n"
        if moved:
            position.offset, position.at_line_end = 0, True
        position.inode = st.st_ino
    except BaseException:
        f.close()
        raise
    return Chunks(f, position, moved, final)


def end_position(path: Path | str) -> Position:
    """A `Position` just after the last ``"\\n"`` of ``path`` (offset 0 when it has none).

    Starting there skips what the file holds now without reading it (one seek, plus a backward
    scan for the last line break). Raises OSError (FileNotFoundError when the file is missing).
    """
    with open(path, "rb") as f:
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
    return Position(inode=st.st_ino, offset=end)


def tail(path: Path, offset: int) -> tuple[list[dict[str, Any]], int, bool]:
    """The complete records appended to `path` since byte `offset`.

    Returns (records, new offset, reset). A torn last line is left for the next call; lines that
    are not JSON objects are skipped. `reset` is True when the file shrank below `offset` or no
    longer has a line break just before it (truncated, replaced or rewritten): it was read again
    from the start, so the caller drops what it built. A missing file gives ([], offset, False).
    """
    position = Position(offset=offset)
    try:
        chunks = read_chunks(path, position)
    except FileNotFoundError:
        return [], offset, False
    records = []
    for buf, end in chunks:
        for line in buf[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records, position.offset, chunks.reset
