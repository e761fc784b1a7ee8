"""Token readers: Claude Code transcripts and Codex rollouts, read incrementally.

Fixtures are written in the formats Claude Code 2.1.197 and Codex 0.169.0 produce (compact JSON
lines, the field names and record types listed in REFERENCE.md), with streaming snapshots,
API-error records, partial last lines and `info: null` token_count events.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_orchestrator.tokens import TranscriptScanner, Usage, claude_usage, codex_usage, scan_paths
from agent_orchestrator.tokens import scanner as scanner_module
from agent_orchestrator.transcripts import tail
from agent_orchestrator.transcripts.discovery import claude_project_dir
from agent_orchestrator.transcripts.records import detect_kind as records_detect_kind
from tests.support.transcripts import TS, claude_assistant, dumps

# -- Claude Code fixtures ----------------------------------------------------------------------


def claude_user(text: str, *, session: str = "sess-a", tool_result: dict | None = None) -> str:
    rec = {
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/work/app",
        "sessionId": session, "version": "2.1.197", "gitBranch": "main", "type": "user",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
        "uuid": f"u-{text[:8]}", "timestamp": TS,
    }  # fmt: skip
    if tool_result is not None:
        rec["toolUseResult"] = tool_result
    return dumps(rec)


def claude_api_error(*, usage: dict | None) -> str:
    message = {
        "id": "3b9c0e1e-5e0f-4f43-9a52-2f3c7a1d9e10", "container": None, "model": "<synthetic>",
        "role": "assistant", "stop_reason": "stop_sequence", "stop_sequence": "", "type": "message",
        "content": [{"type": "text", "text": "API Error: 529 Overloaded"}],
    }  # fmt: skip
    if usage is not None:
        message["usage"] = usage
    return dumps({
        "parentUuid": "u-1", "isSidechain": False, "userType": "external", "cwd": "/work/app",
        "sessionId": "sess-a", "version": "2.1.197", "gitBranch": "main", "type": "assistant",
        "uuid": "a-err", "timestamp": TS, "message": message, "isApiErrorMessage": True,
        "apiErrorStatus": 529,
    })  # fmt: skip


TOOL = {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}

#: A session: every line ends in "\n". Expected totals are computed by hand below.
CLAUDE_LINES = [
    dumps({"type": "file-history-snapshot", "messageId": "m0", "snapshot": {},
           "isSnapshotUpdate": False}),
    claude_user("please list the files"),
    # response A: three content blocks; output_tokens is a streaming snapshot, largest last
    claude_assistant("msg_A", "req_A", out=1, inp=4, read=15000, write=1200),
    claude_assistant("msg_A", "req_A", out=1, inp=4, read=15000, write=1200, block=TOOL),
    claude_assistant("msg_A", "req_A", out=120, inp=4, read=15000, write=1200, block=TOOL),
    # a Task tool result mentions "usage" and "assistant" but is a user record: never counted
    claude_user("tool done", tool_result={"usage": {"input_tokens": 999, "output_tokens": 999},
                                          "agentType": "assistant"}),
    # response B: largest line in the middle, a stale snapshot after it
    claude_assistant("msg_B", "req_B", out=7, inp=2, read=16200, write=300),
    claude_assistant("msg_B", "req_B", out=310, inp=2, read=16200, write=300),
    claude_assistant("msg_B", "req_B", out=40, inp=2, read=16200, write=300),
    # API errors: usage zero, or absent, or (defensively) non-zero: count nothing
    claude_api_error(usage={"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 0, "service_tier": None}),
    claude_api_error(usage=None),
    claude_api_error(usage={"input_tokens": 50, "output_tokens": 50}),
    dumps({"type": "system", "subtype": "turn_duration", "durationMs": 9000, "timestamp": TS}),
    # no requestId: de-duplicated on message.id alone
    claude_assistant("msg_C", None, out=9, inp=1, read=100),
    claude_assistant("msg_C", None, out=9, inp=1, read=100),
    # no id at all: each line counts
    claude_assistant(None, None, out=5, inp=1),
    claude_assistant(None, None, out=5, inp=1),
]
CLAUDE_TOTAL = (
    Usage(input=4, output=120, cache_read=15000, cache_write=1200)  # msg_A
    + Usage(input=2, output=310, cache_read=16200, cache_write=300)  # msg_B
    + Usage(input=1, output=9, cache_read=100)  # msg_C
    + Usage(input=2, output=10)  # the two id-less lines
)
CLAUDE_BYTES = "".join(line + "\n" for line in CLAUDE_LINES).encode()


# -- Codex fixtures ------------------------------------------------------------------------------

ROLLOUT_ID = "019a9b2c-7d1e-7c52-a0b4-3f6e2d8c9a01"


def codex_line(kind: str, payload: dict) -> str:
    return dumps({"timestamp": TS, "type": kind, "payload": payload})


def codex_meta(cwd: str = "/work/app", sid: str = ROLLOUT_ID, **extra: str) -> str:
    return codex_line("session_meta", {
        "id": sid, "timestamp": TS, "cwd": cwd, "originator": "codex_cli_rs",
        "cli_version": "0.169.0", "instructions": None, "source": "cli", **extra,
        "model_provider": "local", "git": {"commit_hash": "abc123", "branch": "main"},
    })  # fmt: skip


def tok(inp: int, cached: int, out: int, reasoning: int) -> dict:
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": reasoning, "total_tokens": inp + out}  # fmt: skip


def codex_tokens(total: dict | None, last: dict | None = None) -> str:
    info = None if total is None else {
        "total_token_usage": total, "last_token_usage": last or total,
        "model_context_window": 272000,
    }  # fmt: skip
    return codex_line("event_msg", {"type": "token_count", "info": info, "rate_limits": {
        "primary": {"used_percent": 7.0, "window_minutes": 300, "resets_at": 1763483205},
        "secondary": None}})  # fmt: skip


T1 = tok(8000, 0, 300, 128)
T2 = tok(17000, 7936, 450, 192)
T3 = tok(26500, 16896, 950, 448)
CODEX_LINES = [
    codex_meta(),
    codex_line("turn_context", {"cwd": "/work/app", "approval_policy": "never",
                                "sandbox_policy": {"mode": "danger-full-access"},
                                "model": "gpt-5-codex", "summary": "auto"}),
    codex_line("response_item", {"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": "fix the build"}]}),
    codex_tokens(None),  # rate limits arrive before any usage
    codex_line("event_msg", {"type": "agent_message", "message": "Done with step 1."}),
    codex_tokens(T1),
    codex_tokens(T2, tok(9000, 7936, 150, 64)),
    codex_tokens(T2, tok(9000, 7936, 150, 64)),  # same totals re-sent with a rate-limit update
    codex_tokens(T3, tok(9500, 8960, 500, 256)),
]
CODEX_TOTAL = Usage(input=26500 - 16896, cache_read=16896, output=950)
CODEX_BYTES = "".join(line + "\n" for line in CODEX_LINES).encode()


def write(path: Path, data: bytes | str, mode: str = "wb") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def roundtrip(scanner: TranscriptScanner) -> TranscriptScanner:
    return TranscriptScanner.from_state(json.loads(json.dumps(scanner.to_state())))


# -- Usage ---------------------------------------------------------------------------------------


def test_usage_arithmetic_and_dict_round_trip() -> None:
    a = Usage(input=1, output=2, cache_read=3, cache_write=4)
    assert a.total == 10
    assert a + a == Usage(2, 4, 6, 8)
    assert (a + a) - a == a
    assert sum([a, a, a]) == Usage(3, 6, 9, 12)
    assert a.to_dict() == {"input": 1, "output": 2, "cache_read": 3, "cache_write": 4, "total": 10}
    assert Usage.from_dict(a.to_dict()) == a
    assert Usage.from_dict({"output": 5}) == Usage(output=5)
    assert not Usage() and a
    with pytest.raises(ValueError):
        Usage.from_dict({"input": "7"})


def test_usage_mappings_from_each_cli() -> None:
    assert claude_usage({"input_tokens": 4, "output_tokens": 9, "cache_read_input_tokens": 70,
                         "cache_creation_input_tokens": 20}) == Usage(4, 9, 70, 20)  # fmt: skip
    assert claude_usage({"input_tokens": None, "output_tokens": "x"}) == Usage()
    assert claude_usage(None) is None
    u = codex_usage(T3)
    assert u == CODEX_TOTAL and u is not None
    assert u.total == T3["total_tokens"]  # cached inside input, reasoning inside output


# -- Claude Code ---------------------------------------------------------------------------------


def test_claude_full_read_equals_hand_sum(tmp_path: Path) -> None:
    path = write(tmp_path / "sess-a.jsonl", CLAUDE_BYTES)
    scanner = TranscriptScanner()
    assert scanner.read_claude(path) == CLAUDE_TOTAL
    assert scanner.read_claude(path) == Usage()  # nothing new
    assert scanner.session_id(path) == "sess-a"
    assert scanner.skipped_lines == 0


def test_claude_appended_lines_yield_only_the_delta(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES)
    scanner = TranscriptScanner()
    scanner.read_claude(path)
    # a later snapshot of msg_B with more output adds only the difference; msg_D is new
    write(path, claude_assistant("msg_B", "req_B", out=400, inp=2, read=16200, write=300) + "\n"
          + claude_assistant("msg_D", "req_D", out=50, inp=6, read=900) + "\n", "ab")  # fmt: skip
    assert scanner.read_claude(path) == Usage(output=90) + Usage(input=6, output=50, cache_read=900)


@pytest.mark.parametrize("chunk", [1, 7, 333, 4096])
def test_reads_spanning_many_chunks_and_lines_longer_than_a_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(tail, "CHUNK_BYTES", chunk)
    claude = write(tmp_path / "s.jsonl", CLAUDE_BYTES + b'{"type":"assistant","message":')
    codex = write(tmp_path / "rollout-x.jsonl", CODEX_BYTES)
    scanner = TranscriptScanner()
    assert scanner.read_claude(claude) == CLAUDE_TOTAL
    assert scanner.read_codex(codex) == (CODEX_TOTAL, "/work/app")
    assert scanner.to_state()["files"][str(claude)]["offset"] == len(CLAUDE_BYTES)


def test_claude_partial_last_line_is_read_once_completed(tmp_path: Path) -> None:
    line = claude_assistant("msg_P", "req_P", out=77, inp=5).encode()
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES + line[:40])
    scanner = TranscriptScanner()
    assert scanner.read_claude(path) == CLAUDE_TOTAL
    write(path, line[40:], "ab")  # still no "\n": not a complete line yet
    assert scanner.read_claude(path) == Usage()
    assert scanner.skipped_lines == 0
    write(path, b"\n", "ab")
    assert scanner.read_claude(path) == Usage(input=5, output=77)


def test_claude_state_round_trip_continues_without_double_counting(tmp_path: Path) -> None:
    half = len(CLAUDE_LINES) // 2
    path = write(tmp_path / "s.jsonl", "".join(x + "\n" for x in CLAUDE_LINES[:half]))
    first = TranscriptScanner()
    got = first.read_claude(path)
    write(path, "".join(x + "\n" for x in CLAUDE_LINES[half:]), "ab")
    restarted = roundtrip(first)
    got += restarted.read_claude(path)
    assert got == CLAUDE_TOTAL
    assert roundtrip(restarted).read_claude(path) == Usage()


def test_claude_message_split_across_a_restart_counts_the_largest_once(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", claude_assistant("msg_S", "req_S", out=2, read=500) + "\n")
    scanner = TranscriptScanner()
    got = scanner.read_claude(path)
    write(path, claude_assistant("msg_S", "req_S", out=90, read=500) + "\n", "ab")
    got += roundtrip(scanner).read_claude(path)
    assert got == Usage(input=3, output=90, cache_read=500)


def test_claude_truncated_or_replaced_file_is_reread_without_double_counting(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES)
    scanner = TranscriptScanner()
    assert scanner.read_claude(path) == CLAUDE_TOTAL
    new = claude_assistant("msg_N", "req_N", out=11, inp=1) + "\n"
    # truncated and rewritten shorter: the known responses are not counted again
    kept = "".join(x + "\n" for x in CLAUDE_LINES[2:5])
    write(path, kept + new)
    assert scanner.read_claude(path) == Usage(input=1, output=11)
    # replaced by a new file (new inode), larger than the offset; (lines without a message id
    # have no key to recognise them by, so the copy leaves those out)
    keyed = "".join(x + "\n" for x in CLAUDE_LINES[:-2])
    fresh = claude_assistant("msg_R", "req_R", out=8) + "\n"
    other = write(tmp_path / "tmp.jsonl", keyed * 2 + new + fresh)
    os.replace(other, path)
    assert scanner.read_claude(path) == Usage(input=3, output=8)


def test_claude_replaced_file_is_reread_even_with_a_line_break_at_the_old_offset(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES)
    scanner = TranscriptScanner()
    scanner.read_claude(path)
    # a different transcript whose bytes happen to have a "\n" just before the old offset:
    # only the inode says it is another file
    head = claude_assistant("msg_R", "req_R", out=8) + "\n"
    pad = len(CLAUDE_BYTES) - len(head) - len('{"type":"system","pad":""}\n')
    filler = '{"type":"system","pad":"' + "x" * pad + '"}\n'
    tail = claude_assistant("msg_T", "req_T", out=6) + "\n"
    assert len((head + filler).encode()) == len(CLAUDE_BYTES)
    os.replace(write(tmp_path / "new.jsonl", head + filler + tail), path)
    assert scanner.read_claude(path) == Usage(input=6, output=14)


def test_claude_rewritten_in_place_past_the_offset_is_reread(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES)
    scanner = TranscriptScanner()
    scanner.read_claude(path)
    # same inode, longer, but the byte before the old offset is no longer a line break
    fresh = claude_assistant("msg_W", "req_W", out=1000, inp=9) + "\n"
    filler = '{"type":"system","pad":"' + "x" * len(CLAUDE_BYTES) + '"}\n'
    with open(path, "r+b") as f:
        f.write((fresh + filler).encode())
    assert scanner.read_claude(path) == Usage(input=9, output=1000)


def test_claude_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    good = claude_assistant("msg_G", "req_G", out=10, inp=1)
    lines = [
        good[:-30],  # a torn write
        '{"type":"assistant","message":{"usage":',  # truncated JSON
        '["assistant", "usage"]',  # valid JSON, not a record
        # records without a usage object are valid JSON: ignored, not "skipped"
        '{"type":"assistant","message":"usage"}',
        '{"type":"assistant","message":{"id":"m","usage":[1,2]}}',
        "not json at all",  # no usage marker: never parsed, not counted
        good,
    ]
    data = "\n".join(lines).encode() + b"\n" + b'\xff\xfe"usage" "assistant"\n'  # bad UTF-8
    path = write(tmp_path / "s.jsonl", data)
    scanner = TranscriptScanner()
    assert scanner.read_claude(path) == Usage(input=1, output=10)
    assert scanner.skipped_lines == 4
    assert roundtrip(scanner).skipped_lines == 4


def test_claude_key_memory_is_bounded(tmp_path: Path) -> None:
    lines = []
    for n in range(40):
        lines += [claude_assistant(f"msg_{n}", f"req_{n}", out=k) for k in (1, n + 1)]
    path = write(tmp_path / "s.jsonl", "".join(x + "\n" for x in lines))
    scanner = TranscriptScanner(max_keys=8)
    assert scanner.read_claude(path) == Usage(input=3 * 40, output=sum(range(1, 41)))
    (entry,) = scanner.to_state()["files"].values()
    assert len(entry["keys"]) == 8
    assert entry["keys"][-1][0] == "msg_39:req_39"


def test_missing_file_and_kind_mismatch(tmp_path: Path) -> None:
    scanner = TranscriptScanner()
    assert scanner.read_claude(tmp_path / "nope.jsonl") == Usage()
    assert scanner.read_codex(tmp_path / "nope.jsonl") == (Usage(), None)
    path = write(tmp_path / "s.jsonl", CLAUDE_BYTES)
    scanner.read_claude(path)
    with pytest.raises(ValueError):
        scanner.read_codex(path)
    with pytest.raises(ValueError):
        TranscriptScanner.from_state({"version": 99, "files": {}})
    with pytest.raises(ValueError):
        TranscriptScanner.from_state({"version": 1, "files": {"/x": {"kind": "claude"}}})


# -- Codex ---------------------------------------------------------------------------------------


def test_codex_rollout_counts_cumulative_totals_and_reports_cwd(tmp_path: Path) -> None:
    path = write(tmp_path / f"rollout-2026-11-22T03-24-00-{ROLLOUT_ID}.jsonl", CODEX_BYTES)
    scanner = TranscriptScanner()
    got, cwd = scanner.read_codex(path)
    assert got == CODEX_TOTAL
    assert got.total == T3["total_tokens"]
    assert cwd == "/work/app"
    assert scanner.session_id(path) == ROLLOUT_ID
    assert scanner.read_codex(path) == (Usage(), "/work/app")


def test_codex_cwd_is_none_until_session_meta_is_complete(tmp_path: Path) -> None:
    meta = codex_meta().encode()
    path = write(tmp_path / "rollout-x.jsonl", meta[:30])
    scanner = TranscriptScanner()
    assert scanner.read_codex(path) == (Usage(), None)
    write(path, meta[30:] + b"\n" + (codex_tokens(T1) + "\n").encode(), "ab")
    got, cwd = roundtrip(scanner).read_codex(path)
    assert (got, cwd) == (codex_usage(T1), "/work/app")


def test_codex_appends_and_restart_yield_only_new_tokens(tmp_path: Path) -> None:
    path = write(tmp_path / "rollout-x.jsonl", "".join(x + "\n" for x in CODEX_LINES[:6]))
    scanner = TranscriptScanner()
    first, _ = scanner.read_codex(path)
    assert first == codex_usage(T1)
    write(path, "".join(x + "\n" for x in CODEX_LINES[6:]), "ab")
    rest, _ = roundtrip(scanner).read_codex(path)
    assert first + rest == CODEX_TOTAL
    assert rest == Usage(input=9604 - 8000, cache_read=16896, output=650)


def test_codex_forked_rollout_replaying_rows_is_not_double_counted(tmp_path: Path) -> None:
    t4 = tok(30000, 20000, 1000, 448)
    lines = [*CODEX_LINES, codex_tokens(T1), codex_tokens(T2), codex_tokens(T3), codex_tokens(t4)]
    path = write(tmp_path / "rollout-fork.jsonl", "".join(x + "\n" for x in lines))
    got, _ = TranscriptScanner().read_codex(path)
    assert got == codex_usage(t4)
    assert got.total == t4["total_tokens"]
    # read incrementally, the replayed rows count nothing (never a negative delta)
    path = write(tmp_path / "rollout-fork2.jsonl", CODEX_BYTES)
    scanner = TranscriptScanner()
    assert scanner.read_codex(path)[0] == CODEX_TOTAL
    write(path, codex_tokens(T1) + "\n" + codex_tokens(T2) + "\n", "ab")
    assert scanner.read_codex(path)[0] == Usage()
    write(path, codex_tokens(T3) + "\n" + codex_tokens(t4) + "\n", "ab")
    assert scanner.read_codex(path)[0] == codex_usage(t4) - CODEX_TOTAL


def test_codex_forked_from_id_is_remembered(tmp_path: Path) -> None:
    meta = codex_meta(sid="child-id", forked_from_id=ROLLOUT_ID)
    path = write(tmp_path / "rollout-child.jsonl", meta + "\n" + codex_meta(sid="parent") + "\n")
    scanner = TranscriptScanner()
    scanner.read_codex(path)
    (entry,) = roundtrip(scanner).to_state()["files"].values()
    assert (entry["session_id"], entry["forked_from"]) == ("child-id", ROLLOUT_ID)


# -- scan_paths ----------------------------------------------------------------------------------


def test_scan_paths_over_a_folder_with_both_kinds(tmp_path: Path) -> None:
    project = claude_project_dir(tmp_path / "home", Path("/work/app"))
    write(project / "sess-a.jsonl", CLAUDE_BYTES)
    # a sub-agent transcript carries its parent's sessionId and adds to it
    sub = claude_assistant("msg_sub", "req_sub", out=30, inp=2, session="sess-a")
    write(project / "sess-a" / "subagents" / "agent-1.jsonl", sub + "\n")
    other = claude_assistant("msg_o", "req_o", out=4, inp=1, session="sess-b")
    write(project / "sess-b.jsonl", claude_user("hi", session="sess-b") + "\n" + other + "\n")
    codex_dir = tmp_path / "codex" / "sessions" / "2026" / "11" / "22"
    write(codex_dir / f"rollout-2026-11-22T03-24-00-{ROLLOUT_ID}.jsonl", CODEX_BYTES)
    bare_id = "019a0000-0000-7000-8000-000000000abc"
    write(codex_dir / f"rollout-2026-11-22T04-00-00-{bare_id}.jsonl", codex_tokens(T1) + "\n")
    write(tmp_path / "home" / "notes.jsonl", '{"hello": "world"}\n')  # neither kind: ignored
    got = scan_paths([tmp_path / "home", tmp_path / "codex", project / "sess-b.jsonl"])
    assert got == {
        "sess-a": CLAUDE_TOTAL + Usage(input=2, output=30),
        "sess-b": Usage(input=1, output=4),
        ROLLOUT_ID: CODEX_TOTAL,
        bare_id: codex_usage(T1),
    }
    with pytest.raises(FileNotFoundError):
        scan_paths([tmp_path / "missing"])


def scan_tree(root: Path) -> list[Path]:
    """Claude and Codex files of many sizes, sub-agent files, an unrecognised file; all paths."""
    project = claude_project_dir(root / "home", Path("/work/app"))
    files = [write(project / "sess-a.jsonl", CLAUDE_BYTES * 3)]
    for n in range(12):  # sessions of growing size, some sharing a session id across files
        lines = [claude_assistant(f"msg_{n}_{k}", f"req_{n}_{k}", out=k + 1, inp=n, read=10 * k,
                                  session=f"sess-{n % 5}") for k in range(20 * n + 1)]  # fmt: skip
        files.append(write(project / f"s{n}.jsonl", "".join(x + "\n" for x in lines)))
    sub = claude_assistant("msg_sub", "req_sub", out=30, inp=2, session="sess-a")
    files.append(write(project / "sess-a" / "subagents" / "agent-1.jsonl", sub + "\n"))
    files.append(write(root / "codex" / f"rollout-2026-11-22T03-24-00-{ROLLOUT_ID}.jsonl", CODEX_BYTES))
    files.append(write(root / "home" / "notes.jsonl", '{"hello": "world"}\n'))
    return files


@pytest.mark.parametrize("workers", [2, 3, 16])
def test_scan_paths_in_worker_processes_equals_the_in_process_read(tmp_path: Path, workers: int) -> None:
    scan_tree(tmp_path)
    serial = scan_paths([tmp_path], workers=1)
    forked = scan_paths([tmp_path], workers=workers)
    assert list(forked.items()) == list(serial.items())  # same totals, same order
    # the file holds the session three times: keyed responses count once, id-less lines thrice
    assert serial["sess-a"] == CLAUDE_TOTAL + Usage(input=4, output=20) + Usage(input=2, output=30)
    assert serial[ROLLOUT_ID] == CODEX_TOTAL


def test_scan_paths_worker_errors_reach_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = scan_tree(tmp_path)
    broken = files[1]

    def detect(path: Path) -> str | None:
        if path == broken:
            raise PermissionError(13, "Permission denied", str(path))
        return records_detect_kind(path)

    monkeypatch.setattr(scanner_module, "detect_kind", detect)
    for workers in (1, 2, 4):  # in this process, or in a forked one
        with pytest.raises(PermissionError) as exc:
            scan_paths([tmp_path], workers=workers)
        assert exc.value.filename == str(broken)


def test_scan_paths_chooses_workers_by_size_cpus_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    mb = 1 << 20
    monkeypatch.setattr(scanner_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    # as in the CLI's process (an earlier test in this worker may have left a thread running)
    monkeypatch.setattr(scanner_module.threading, "active_count", lambda: 1)
    assert scanner_module._worker_count([mb] * 10, None) == 1  # 10 MB: not worth a fork
    assert scanner_module._worker_count([100 * mb] * 10, None) == 2  # one per CPU
    assert scanner_module._worker_count([100 * mb], None) == 1  # one file
    assert scanner_module._worker_count([1] * 10, 4) == 4
    monkeypatch.setattr(scanner_module.threading, "active_count", lambda: 2)
    assert scanner_module._worker_count([100 * mb] * 10, 4) == 1  # never fork beside other threads


# -- what orjson reads differently from json ---------------------------------------------------


def test_lines_only_the_json_module_decodes_are_counted_as_before(tmp_path: Path) -> None:
    big = 2**70  # past 64 bits: orjson makes it a float, json keeps the integer
    base = json.loads(claude_assistant("msg_X", "req_X", out=5, inp=1))
    huge = json.loads(claude_assistant("msg_H", "req_H", out=big, inp=1))
    nan = claude_assistant("msg_N", "req_N", out=7, inp=1).replace('"stop_sequence":null', '"stop_sequence":NaN')
    surrogate = claude_assistant("msg_S", "req_S", out=11, inp=1, block={"type": "text", "text": "\ud800"})
    assert "\\ud800" in surrogate
    lines = [dumps(base), dumps(huge), nan, surrogate]
    data = b"\xef\xbb\xbf" + "".join(x + "\n" for x in lines).encode()  # a byte-order mark first
    path = write(tmp_path / "s.jsonl", data)
    want = sum((claude_usage(json.loads(line.lstrip(b"\xef\xbb\xbf"))["message"]["usage"]) or Usage()
                for line in data.splitlines()), Usage())  # fmt: skip
    assert want == Usage(input=4, output=5 + big + 7 + 11)
    scanner = TranscriptScanner()
    assert scanner.read_claude(path) == want
    assert scanner.skipped_lines == 0
    rollout = write(tmp_path / "rollout-big.jsonl", codex_meta() + "\n" + codex_tokens(tok(100, 0, big, 0)) + "\n")
    assert TranscriptScanner().read_codex(rollout)[0] == Usage(input=100, output=big)


# -- properties ----------------------------------------------------------------------------------


def appended_in_pieces(data: bytes, cuts: list[int], reader: str, restart: bool) -> Usage:
    """Append ``data`` to a file in pieces cut at ``cuts``, reading after each append."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rollout-t.jsonl"
        path.touch()
        scanner, got, prev = TranscriptScanner(), Usage(), 0
        for cut in [*sorted(set(cuts)), len(data)]:
            write(path, data[prev:cut], "ab")
            prev = cut
            if restart:
                scanner = roundtrip(scanner)
            got += scanner.read_claude(path) if reader == "claude" else scanner.read_codex(path)[0]
        return got


property_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@property_settings
@given(cuts=st.lists(st.integers(0, len(CLAUDE_BYTES)), max_size=12), restart=st.booleans())
def test_claude_any_split_of_the_byte_stream_equals_one_full_read(
    cuts: list[int], restart: bool
) -> None:
    assert appended_in_pieces(CLAUDE_BYTES, cuts, "claude", restart) == CLAUDE_TOTAL


@property_settings
@given(cuts=st.lists(st.integers(0, len(CODEX_BYTES)), max_size=12), restart=st.booleans())
def test_codex_any_split_of_the_byte_stream_equals_one_full_read(
    cuts: list[int], restart: bool
) -> None:
    assert appended_in_pieces(CODEX_BYTES, cuts, "codex", restart) == CODEX_TOTAL


snapshot = st.tuples(
    st.sampled_from(["msg_1", "msg_2", "msg_3"]),
    st.integers(0, 50), st.integers(0, 500), st.integers(0, 900), st.integers(0, 90),
)  # fmt: skip


@property_settings
@given(lines=st.lists(snapshot, max_size=25), cuts=st.lists(st.integers(0, 25), max_size=5))
def test_claude_incremental_dedup_equals_largest_total_per_key(
    lines: list[tuple[str, int, int, int, int]], cuts: list[int]
) -> None:
    # reference: the batch rule, the first line with the largest total per key
    best: dict[str, Usage] = {}
    for mid, inp, out, read, wr in lines:
        u = Usage(inp, out, read, wr)
        if mid not in best or u.total > best[mid].total:
            best[mid] = u
    text = [claude_assistant(m, "req", inp=i, out=o, read=r, write=w) for m, i, o, r, w in lines]
    data = "".join(x + "\n" for x in text).encode()
    offsets = [len("".join(x + "\n" for x in text[:c]).encode()) for c in cuts if c <= len(text)]
    assert appended_in_pieces(data, offsets, "claude", restart=True) == sum(best.values(), Usage())
