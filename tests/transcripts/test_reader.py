"""Following transcript files as log events (`transcripts.reader`): one file, many files.

Fixtures: `tests.support.transcripts` (the formats Claude Code 2.1.197 and Codex CLI 0.169.0
write).
"""

from __future__ import annotations

from pathlib import Path

from agent_orchestrator.transcripts.discovery import path_source
from agent_orchestrator.transcripts.reader import LogSet, TranscriptTail, iter_events, mtime
from tests.support.transcripts import c_user, ts, write_claude


def test_tail_waits_for_a_torn_line_and_restarts_on_a_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    line = c_user(ts(1), "hello")
    path.write_text(line[:20], encoding="utf-8")  # not even recognisable yet
    tail = TranscriptTail(path)
    assert tail.read() == [] and tail.kind is None
    path.write_text(line[:40], encoding="utf-8")
    assert tail.read() == []
    with path.open("a", encoding="utf-8") as f:
        f.write(line[40:] + "\n" + "garbage\n")
    assert [e.text for e in tail.read()] == ["hello"] and tail.skipped == 1
    assert tail.read() == []
    path.unlink()
    write_claude(path, [c_user(ts(2), "again")])  # a new file at the same path
    assert [e.text for e in tail.read()] == ["again"]


def test_unrecognised_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": 1}\n', encoding="utf-8")
    tail = TranscriptTail(path)
    assert tail.read() == [] and tail.kind == "unknown"


def test_a_file_rewritten_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = write_claude(tmp_path / "s.jsonl", [c_user(ts(1), "one"), c_user(ts(2), "two")])
    tail = TranscriptTail(path)
    assert [e.text for e in tail.read()] == ["one", "two"]
    with path.open("r+b") as f:  # same inode, longer, no line break before the old offset
        f.write((c_user(ts(3), "rewritten " + "x" * 1000) + "\n").encode())
    assert [e.text for e in tail.read()] == ["rewritten " + "x" * 1000]


def test_final_read_takes_an_unterminated_last_line_and_later_reads_continue(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(c_user(ts(1), "one") + "\n" + c_user(ts(2), "two"), encoding="utf-8")
    assert [e.text for e in iter_events(path)] == ["one", "two"]
    tail = TranscriptTail(path)
    assert [e.text for e in tail.read(final=True)] == ["one", "two"]
    assert tail.offset == path.stat().st_size
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + c_user(ts(3), "three") + "\n")
    assert [e.text for e in tail.read()] == ["three"]  # the final line is not read twice


def test_logset_notes_unrecognised_files_once_and_drops_removed_ones(tmp_path: Path) -> None:
    write_claude(tmp_path / "a.jsonl", [c_user(ts(1), "hello")])
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n', encoding="utf-8")
    notes: list[str] = []
    logs = LogSet([path_source([tmp_path])], warn=notes.append)
    assert [(agent, e.text) for agent, e in logs.poll()] == [(None, "hello")]
    assert logs.poll() == []
    assert notes == [f"{other}: not a Claude Code or Codex transcript; skipped"]
    (tmp_path / "a.jsonl").unlink()
    assert logs.poll() == [] and set(logs.files) == {other}


def test_mtime_of_a_missing_file_is_zero(tmp_path: Path) -> None:
    assert mtime(tmp_path / "nope") == 0.0
    assert mtime(write_claude(tmp_path / "a.jsonl", [])) > 0
