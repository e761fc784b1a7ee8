"""Incremental JSON-lines reading (`transcripts.tail`): the one primitive every reader uses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent_orchestrator.transcripts import tail as tail_module
from agent_orchestrator.transcripts.tail import Position, end_position, read_chunks, tail


def write(path: Path, data: bytes, mode: str = "wb") -> Path:
    with open(path, mode) as f:
        f.write(data)
    return path


def lines_of(path: Path, position: Position, **kw: bool) -> list[bytes]:
    return [line for buf, end in read_chunks(path, position, **kw) for line in buf[:end].split(b"\n") if line]


@pytest.mark.parametrize("chunk", [1, 3, 5, 1 << 20])
def test_chunks_hold_whole_lines_and_a_torn_line_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(tail_module, "CHUNK_BYTES", chunk)
    path = write(tmp_path / "f.jsonl", b"one\ntwo\nthr")
    pos = Position()
    pairs = list(read_chunks(path, pos))
    assert all(buf[:end].endswith(b"\n") for buf, end in pairs)
    assert b"".join(buf[:end] for buf, end in pairs) == b"one\ntwo\n"
    assert (pos.offset, pos.inode) == (8, os.stat(path).st_ino)
    write(path, b"ee\n", "ab")
    assert lines_of(path, pos) == [b"three"] and pos.offset == 14
    assert lines_of(path, pos) == []


@pytest.mark.parametrize("chunk", [1, 4, 64])
def test_lines_longer_than_a_read_are_read_whole_and_offsets_stay_on_line_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(tail_module, "CHUNK_BYTES", chunk)
    lines = [b"a", b"b" * 300, b"c" * 5, b"d" * 1000, b"e"]
    path = write(tmp_path / "f.jsonl", b"\n".join(lines) + b"\n" + b"torn" * 100)
    pos = Position()
    offsets = []
    got = []
    for buf, end in read_chunks(path, pos):
        offsets.append(pos.offset)
        got += buf[:end].split(b"\n")[:-1]
    assert got == lines
    assert pos.offset == sum(len(x) + 1 for x in lines)
    starts = {sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines) + 1)}
    assert set(offsets) <= starts
    assert lines_of(path, Position(), final=True) == [*lines, b"torn" * 100]


def test_final_yields_a_last_line_without_a_line_break(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", b"one\ntwo")
    pos = Position()
    assert lines_of(path, pos, final=True) == [b"one", b"two"]
    assert (pos.offset, pos.at_line_end) == (7, False)
    write(path, b"\nthree\n", "ab")  # the file went on after all: no restart, nothing twice
    chunks = read_chunks(path, pos)
    assert not chunks.reset and [b[:e] for b, e in chunks] == [b"\nthree\n"]
    assert pos.at_line_end
    blank = write(tmp_path / "g.jsonl", b"one\n  ")
    pos = Position()
    assert lines_of(blank, pos, final=True) == [b"one"] and pos.offset == 4


def test_position_restarts_on_a_replaced_truncated_or_rewritten_file(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", b"aaaa\nbbbb\n")
    pos = Position()
    chunks = read_chunks(path, pos)
    assert not chunks.reset and [b[:e] for b, e in chunks] == [b"aaaa\nbbbb\n"]
    write(path, b"cc\n")  # truncated (same inode)
    chunks = read_chunks(path, pos)
    assert chunks.reset and [b[:e] for b, e in chunks] == [b"cc\n"]
    write(path, b"ddd\neeeeeeee\n")  # rewritten: longer, no line break before the offset
    chunks = read_chunks(path, pos)
    assert chunks.reset and [b[:e] for b, e in chunks] == [b"ddd\neeeeeeee\n"]
    other = write(tmp_path / "g.jsonl", b"ddd\neeeeeeee\nff\n")
    os.replace(other, path)  # replaced: another inode
    chunks = read_chunks(path, pos)
    assert chunks.reset and [b[:e] for b, e in chunks] == [b"ddd\neeeeeeee\nff\n"]
    write(path, b"gg\n", "ab")  # appended: no restart
    chunks = read_chunks(path, pos)
    assert not chunks.reset and [b[:e] for b, e in chunks] == [b"gg\n"]


def test_a_missing_file_raises_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_chunks(tmp_path / "nope", Position())
    with pytest.raises(FileNotFoundError):
        end_position(tmp_path / "nope")


def test_end_position_is_after_the_last_line_break(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail_module, "CHUNK_BYTES", 2)
    path = write(tmp_path / "f.jsonl", b"one\ntwo\nthree-torn")
    pos = end_position(path)
    assert (pos.offset, pos.inode) == (8, os.stat(path).st_ino)
    assert end_position(write(tmp_path / "g.jsonl", b"no break")).offset == 0
    write(path, b"\nfour\n", "ab")
    assert lines_of(path, pos) == [b"three-torn", b"four"]


def test_tail_returns_records_offset_and_reset(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert tail(path, 0) == ([], 0, False)  # missing
    rows = [json.dumps({"n": 1}), "[1]", "not json", json.dumps({"n": 2})]
    write(path, ("\n".join(rows) + "\n" + '{"n": 3').encode())
    records, offset, reset = tail(path, 0)
    assert records == [{"n": 1}, {"n": 2}] and not reset
    assert tail(path, offset) == ([], offset, False)  # the torn line waits
    write(path, b"}\n", "ab")
    records, offset, reset = tail(path, offset)
    assert records == [{"n": 3}] and not reset
    write(path, b'{"n": 9}\n')  # truncated
    assert tail(path, offset) == ([{"n": 9}], 9, True)
    write(path, b'{"n": 10}\n{"n": 11}\n')  # rewritten: longer, no line break before offset 9
    assert tail(path, 9) == ([{"n": 10}, {"n": 11}], 20, True)
