"""End to end: the builder-adversary variants (-min, -stateless, -lean) with the real Claude Code
CLI against each example's scripted model.

Each test runs `agents rehearse run`'s engine on one example and checks what the team really did:
SEQUENCE-COMPLETE with the reporter having run, nothing left behind, the exact commit subjects on
origin/main (made by the agents through the CLI's Bash tool), the handoff pings, and a token
ledger holding exactly the usage the example's playbook sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from agent_orchestrator.rehearsal.runner import RehearsalResult, run_rehearsal

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]


def playbook_rules(example: str) -> dict[str, dict]:
    with (EXAMPLES / example / "playbooks" / "rehearsal.toml").open("rb") as fh:
        return {r["id"]: r for r in tomllib.load(fh)["rule"]}


def per_response(example: str) -> dict[str, int]:
    """Tokens one response of each playbook rule reports."""
    return {rid: sum(r["usage"].values()) for rid, r in playbook_rules(example).items()}


def playbook_tokens(example: str) -> dict[str, int]:
    """Tokens per playbook rule: its usage × the responses it gives (one per step + the final text)."""
    return {rid: sum(r["usage"].values()) * (len(r.get("steps", [])) + 1) for rid, r in playbook_rules(example).items()}


def rehearse(example: str, claude: str) -> tuple[RehearsalResult, list[str]]:
    lines: list[str] = []
    result = run_rehearsal(EXAMPLES / example, timeout=240, keep=True, claude=claude, progress=lines.append)
    return result, lines


def check_end_state(result: RehearsalResult, lines: list[str], last_phase: str) -> None:
    assert result.ok, f"{result.reason}\n" + "\n".join(lines[-40:])
    assert result.leftovers == []
    assert result.reason == "SEQUENCE-COMPLETE; on_complete reporter ran"
    assert result.phase["complete"] and result.phase["phase_id"] == last_phase and result.phase["on_complete"] == "started"
    assert (result.sandbox / "run" / "SEQUENCE-COMPLETE").read_text().splitlines()[0].endswith("SEQUENCE-COMPLETE")  # 2nd line: on_complete pid
    actions = [(e.get("agent"), e["action"]) for e in result.events]
    assert actions.count(("", "sequence-complete")) == 1 and actions.count(("reporter", "on-complete")) == 1


def origin_subjects(result: RehearsalResult) -> list[str]:
    """Commit subjects on origin/main, oldest first, without setup's initial commit."""
    log = subprocess.run(["git", "--git-dir", str(result.sandbox / "origin.git"), "log", "--format=%s", "main"],
                         capture_output=True, text=True, check=True).stdout.splitlines()[::-1]
    assert log[0].startswith("Initial commit")
    return log[1:]


def check_report(result: RehearsalResult, subjects: list[str]) -> None:
    """The reporter ran its turn: REPORT.md holds origin/main's history."""
    report = (result.sandbox / "report" / "REPORT.md").read_text()
    for subject in subjects:
        assert subject in report


def pings(result: RehearsalResult, agent: str) -> int:
    return sum(1 for e in result.events if e.get("agent") == agent and e["action"] == "ping")


def tokens(rows: dict[str, dict], row: str, agent: str) -> int:
    return rows[row]["agents"].get(agent, {}).get("total", 0)


def builder_ok(rows: dict[str, dict], phase: str, want: int) -> bool:
    """The builder's row of `phase` is exactly `want` (the playbook's)."""
    got = tokens(rows, phase, "builder")
    assert got == want, (phase, got, want)
    return True


def test_example_builder_adversary_min(claude: str) -> None:
    result, lines = rehearse("builder-adversary-min", claude)
    try:
        check_end_state(result, lines, "p1")
        subjects = [
            "claim(G1): wc counts lines, words and bytes", "review(G1): FAIL - no test covers empty input",
            "claim(G1): cover empty input", "review(G1): PASS", "status(p1): G1 has a fresh PASS",
        ]
        assert origin_subjects(result) == subjects
        check_report(result, subjects)
        assert pings(result, "adversary") == 2 and pings(result, "builder") == 2
        # the ledger: exactly what the playbook sent
        rows = {r["phase_id"]: r for r in result.tokens}
        assert list(rows) == ["p1:G1", "p1"]
        t = playbook_tokens("builder-adversary-min")
        assert builder_ok(rows, "p1", t["builder-p1"] + t["builder-fixes-G1"] + t["builder-done-p1"])
        assert tokens(rows, "p1", "adversary") == t["adversary-waits"] + t["adversary-fails-G1"] + t["adversary-passes-G1"]
        assert tokens(rows, "p1", "orchestrator") == t["orchestrator"]
        # the gate row opens at the first claim: both reviews of G1 are in it
        assert tokens(rows, "p1:G1", "adversary") == t["adversary-fails-G1"] + t["adversary-passes-G1"]
    finally:
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)


def transcripts(result: RehearsalResult, agent: str) -> list[Path]:
    """The agent's Claude Code session transcripts in its scratch HOME."""
    return sorted((result.sandbox / "run" / "homes" / agent / ".claude" / "projects").glob("*/*.jsonl"))


def first_prompt(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("type") == "user":
            content = rec["message"]["content"]
            return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def test_example_builder_adversary_stateless(claude: str) -> None:
    result, lines = rehearse("builder-adversary-stateless", claude)
    try:
        check_end_state(result, lines, "p2")
        subjects = [
            "claim(G1): wc counts lines, words and bytes", "review(G1): PASS", "status(p1): every gate has a PASS",
            "claim(G2): --json output", "review(G2): FAIL - no test covers --json on stdin",
            "claim(G2): cover --json on stdin", "review(G2): PASS", "status(p2): every gate has a PASS",
        ]
        assert origin_subjects(result) == subjects
        check_report(result, subjects)
        assert pings(result, "adversary") == 3 and pings(result, "builder") == 3
        actions = [(e.get("agent"), e["action"]) for e in result.events]
        assert ("builder", "advance") in actions and ("adversary", "advance") in actions
        # fresh per phase ([loop] resume = false): each loop agent has one conversation per phase,
        # and the p2 one starts from the p2 kickoff with nothing of p1 in it
        for agent in ("builder", "adversary"):
            sessions = {first_prompt(p)[:10]: p for p in transcripts(result, agent)}
            assert sorted(sessions) == ["# Phase p1", "# Phase p2"], sessions
            assert "plans/p1-wc.md" in sessions["# Phase p1"].read_text(encoding="utf-8")
            assert "plans/p1-wc.md" not in sessions["# Phase p2"].read_text(encoding="utf-8")
        # the agents read diffs, not trees: the commands the CLI really ran
        rules = playbook_rules("builder-adversary-stateless")
        commands = [s["bash"] for r in rules.values() for s in r.get("steps", [])]
        assert sum("git show --stat HEAD" in c for c in commands) >= 6 and sum("git diff HEAD~1" in c for c in commands) >= 3
        ran = [json.loads(line).get("command") for line in (result.sandbox / "run" / "model-journal.jsonl").read_text().splitlines()]
        assert set(commands) <= set(ran)
        # the ledger: exactly what the playbook sent, per phase
        rows = {r["phase_id"]: r for r in result.tokens}
        assert list(rows) == ["p1:G1", "p1", "p2:G2", "p2"]
        t = playbook_tokens("builder-adversary-stateless")
        assert builder_ok(rows, "p1", t["builder-p1"] + t["builder-done-p1"])
        assert tokens(rows, "p1", "adversary") == t["adversary-waits"] + t["adversary-passes-G1"]
        assert tokens(rows, "p1", "orchestrator") == t["orchestrator"]
        assert builder_ok(rows, "p2", t["builder-p2"] + t["builder-fixes-G2"] + t["builder-done-p2"])
        assert tokens(rows, "p2", "adversary") == t["adversary-waits"] + t["adversary-fails-G2"] + t["adversary-passes-G2"]
        assert tokens(rows, "p1:G1", "adversary") == t["adversary-passes-G1"]
        assert tokens(rows, "p2:G2", "adversary") == t["adversary-fails-G2"] + t["adversary-passes-G2"]
    finally:
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)


def test_example_builder_adversary_lean(claude: str) -> None:
    result, lines = rehearse("builder-adversary-lean", claude)
    try:
        check_end_state(result, lines, "p1")
        # one claim and one verdict per gate, in order, never batched
        subjects = [
            "claim(G1): counts for one input", "review(G1): PASS",
            "claim(G2): total row for several files", "review(G2): PASS",
            "status(p1): G1 and G2 each have a PASS",
        ]
        assert origin_subjects(result) == subjects
        check_report(result, subjects)
        assert pings(result, "adversary") == 2 and pings(result, "builder") == 2
        gates = [(e.get("previous"), e.get("gate")) for e in result.events if e["action"] == "gate"]
        assert gates == [(None, "G1"), ("G1", "G2")]
        # the ledger: a row per gate, then the phase — exactly what the playbook sent
        rows = {r["phase_id"]: r for r in result.tokens}
        assert list(rows) == ["p1:G1", "p1:G2", "p1"]
        assert rows["p1:G1"]["gate"] == "G1" and rows["p1:G2"]["gate"] == "G2" and rows["p1"]["gate"] is None
        t = playbook_tokens("builder-adversary-lean")
        one = per_response("builder-adversary-lean")
        assert builder_ok(rows, "p1", t["builder-p1"] + t["builder-claims-G2"] + t["builder-done-p1"])
        assert tokens(rows, "p1", "adversary") == t["adversary-waits"] + t["adversary-reviews-G1"] + t["adversary-reviews-G2"]
        assert tokens(rows, "p1", "orchestrator") == t["orchestrator"]
        # each gate row holds the review of that gate alone
        assert tokens(rows, "p1:G1", "adversary") == t["adversary-reviews-G1"]
        assert tokens(rows, "p1:G2", "adversary") == t["adversary-reviews-G2"]
        # a gate row runs from its claim to the next claim: p1:G1 holds the builder's work on G2
        # (the responses up to the claim(G2) push, and maybe its last one); p1:G2 the done turn
        g1, g2 = tokens(rows, "p1:G1", "builder"), tokens(rows, "p1:G2", "builder")
        assert g1 >= 3 * one["builder-claims-G2"] and g2 >= one["builder-done-p1"]
        assert g1 + g2 <= tokens(rows, "p1", "builder")
        assert rows["p1:G1"]["total"]["total"] == sum(a["total"] for a in rows["p1:G1"]["agents"].values())
    finally:
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)
