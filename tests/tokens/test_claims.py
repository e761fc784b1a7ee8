"""Gate boundaries from the transcripts (`tokens.claims`), on real transcripts and on edge cases.

`data/` holds transcripts the real CLIs wrote (long strings cut to 240 characters): Claude Code
2.1.332's builder and adversary in phase p1 of the builder-adversary rehearsal, and Codex 0.171.0
in the Codex e2e (one `exec_command` that commits `claim(C1): made.txt`). The claim commits'
shas and committer times are those of that run's git history.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent_orchestrator.tokens.claims import LOOKBEHIND, Claim, boundary
from agent_orchestrator.transcripts.records import record_time
from tests.support.transcripts import c_assistant, c_tool_result, dumps

DATA = Path(__file__).parent / "data"
BUILDER = DATA / "claude-2.1.332-builder-p1.jsonl"
ADVERSARY = DATA / "claude-2.1.332-adversary-p1.jsonl"
CODEX = DATA / "codex-0.171.0-claim.jsonl"
G1 = Claim("G1", "196c7012f8bdae3d4b5048f7aa03d92b26b2eae5", "claim(G1): wc counts lines, words and bytes", 1796589939.0)
G1_AGAIN = Claim("G1", "89b21533a8cc119c52a2e9b8795a78d45c9d4cb6", "claim(G1): cover empty input", 1796589943.0)
C1 = Claim("C1", "e5baf797ff7798a086c591344934fd8823846090", "claim(C1): made.txt", 1796590334.0)


def at(iso: str) -> float:
    t = record_time({"timestamp": iso})
    assert t is not None
    return t


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """The real transcripts, copied (a boundary skips files last written before the commit)."""
    out = []
    for src in (BUILDER, ADVERSARY, CODEX):
        dst = tmp_path / src.name
        shutil.copy(src, dst)
        out.append(dst)
    return out


@pytest.mark.parametrize("claim,expected", [
    # the builder's `git commit -qm … && git push … && git log --oneline -1` result, 39.705 — not
    # the adversary's `git log` of the same commit after its ping (later), nor the reply at 39.748
    pytest.param(G1, "2026-12-06T20:45:39.705Z", id="claude-first-claim"),
    pytest.param(G1_AGAIN, "2026-12-06T20:45:43.340Z", id="claude-claimed-again"),
    # Codex: the exec_command output (14.529), before the token_count written after it (14.534)
    pytest.param(C1, "2026-12-06T20:52:14.529Z", id="codex-exec-command"),
])
def test_the_tool_result_that_reports_the_claim_opens_the_gate(files: list[Path], claim: Claim, expected: str) -> None:
    assert boundary(claim, files) == (at(expected), "transcript")


def test_without_a_witness_the_end_of_the_commit_second(files: list[Path]) -> None:
    pushed_by_hand = Claim("G9", "0123456789abcdef", "claim(G9): pushed from a terminal", G1.committed)
    assert boundary(pushed_by_hand, files) == (G1.committed + 1, "git")
    # a result stamped after the end of the second loses to it: the gate never opens later
    late = Claim("G1", G1.sha, G1.subject, G1.committed - 5)
    assert boundary(late, files) == (G1.committed - 4, "git")


def test_a_quiet_commit_is_found_through_the_call_that_named_it(tmp_path: Path) -> None:
    """`git commit -qm '<subject>'` prints nothing: its (empty) result answers the call whose
    command holds the subject; a result before the commit's second never counts."""
    path = tmp_path / "s.jsonl"
    call = {"type": "tool_use", "id": "toolu_q", "name": "Bash", "input": {"command": "git commit -qm 'claim(D1): parser'"}}
    lines = [
        c_assistant("2026-11-22T03:10:03.900Z", "msg_0", {"type": "tool_use", "id": "toolu_0", "name": "Bash",
                                                           "input": {"command": "echo 'claim(D1): parser' > msg"}}),
        c_tool_result("2026-11-22T03:10:03.950Z", "toolu_0", ""),  # names the subject, before the commit's second
        c_assistant("2026-11-22T03:10:04.100Z", "msg_1", call),
        c_tool_result("2026-11-22T03:10:04.300Z", "toolu_q", ""),
        c_assistant("2026-11-22T03:10:04.500Z", "msg_2", {"type": "text", "text": "Claimed D1."}),
    ]
    path.write_text("".join(line + "\n" for line in lines))
    committed = at("2026-11-22T03:10:04Z")
    assert boundary(Claim("D1", "8c8c3849aa", "claim(D1): parser", committed), [path]) == (at("2026-11-22T03:10:04.300Z"), "transcript")


def test_a_long_transcript_read_back_from_its_end(tmp_path: Path) -> None:
    """Read back from the end past records hours older than the commit (which name its sha but
    are stamped before it), with a torn last line still being written."""
    path = tmp_path / "long.jsonl"
    committed = at("2026-11-22T05:00:00Z")
    old = [c_tool_result(f"2026-11-22T03:{m:02d}:00.000Z", f"toolu_{m}", "8c8c384 " + "x" * 4000) for m in range(60)]
    new = [c_tool_result("2026-11-22T05:00:00.250Z", "toolu_new", "[main 8c8c384] claim(D2): lexer")]
    path.write_text("".join(line + "\n" for line in old + new) + '{"type":"assistant","timest')
    claim = Claim("D2", "8c8c384", "claim(D2): lexer", committed)
    assert boundary(claim, [path]) == (committed + 0.25, "transcript")
    assert committed - at("2026-11-22T03:59:00Z") > LOOKBEHIND


def test_unreadable_and_odd_files_are_skipped(tmp_path: Path) -> None:
    garbage = tmp_path / "g.jsonl"
    garbage.write_bytes(b"\xff\xfe not json 8c8c384\n" + dumps({"timestamp": "nope", "type": "user"}).encode() + b"\n")
    claim = Claim("D3", "8c8c384", "claim(D3)", at("2026-11-22T05:00:00Z"))
    assert boundary(claim, [garbage, tmp_path / "missing.jsonl"]) == (claim.committed + 1, "git")


def test_the_real_files_hold_what_the_cases_say() -> None:
    """The data files really are what the cases above rely on (their versions and claim lines)."""
    builder = [json.loads(line) for line in BUILDER.read_text().splitlines()]
    assert {r.get("version") for r in builder if r.get("type") in ("user", "assistant")} == {"2.1.332"}
    codex = [json.loads(line) for line in CODEX.read_text().splitlines()]
    assert codex[0]["payload"]["cli_version"] == "0.171.0"
    assert any(G1.subject in json.dumps(r) and r.get("type") == "assistant" for r in builder)
