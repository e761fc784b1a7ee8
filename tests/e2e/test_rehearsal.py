"""End to end: examples/builder-adversary with the real Claude Code CLI against the scripted model.

The watchdog drives a Builder and an Adversary through two phases to SEQUENCE-COMPLETE: claims
ping the adversary, reviews ping the builder, the first review FAILs, the done marker advances
the phase, the reporter runs once, and the token ledger holds exactly the usage the playbook sent,
per phase and per gate; every delivery is confirmed by the CLI's own hook (the with-hooks
half of issue 11's acceptance; tests/e2e/test_hooks_truth.py runs the same example with hooks off).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent_orchestrator.rehearsal.runner import run_rehearsal
from agent_orchestrator.watchers.ledger import DecisionLedger
from tests.support.gate_rows import ROW_IDS, expected_rows, loop_rows, orchestrator_problems, orchestrator_replies, rows_problems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "builder-adversary"

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]



def slowest_review(origin: Path) -> int:
    """Seconds from a claim commit to the review that followed it, the longest on origin/main."""
    log = subprocess.run(["git", "--git-dir", str(origin), "log", "--reverse", "--format=%ct %s", "main"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    slowest, claimed = 0, None
    for line in log:
        ts, subject = line.split(" ", 1)
        if subject.startswith("claim("):
            claimed = int(ts)
        elif subject.startswith("review(") and claimed is not None:
            slowest, claimed = max(slowest, int(ts) - claimed), None
    return slowest


def test_builder_adversary_reaches_sequence_complete(claude: str, tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_rehearsal(EXAMPLE, timeout=240, keep=True, claude=claude, progress=lines.append)
    try:
        assert result.ok, f"{result.reason}\n" + "\n".join(lines[-40:])
        assert result.leftovers == []
        # the claims watcher ran in its own session and flagged at least one claim awaiting its review
        rows = {r.name: r for r in result.status}
        prefix = rows["builder"].session.removesuffix("builder")
        assert (rows["claims"].backend, rows["claims"].state, rows["claims"].session) == ("watcher", "running", prefix + "claims")
        # (a flag is due only when a review came well after the watcher's window, 2 s: 10 s leaves
        # its 1 s interval, git's whole-second commit times and a slow watcher on a loaded machine;
        # a fast run has no flag)
        flags = DecisionLedger(result.sandbox / "run").flags(watcher="claims")
        if slowest_review(result.sandbox / "origin.git") > 10:
            assert any(f.decision.context == "claim-unreviewed" and f.decision.entity_id.startswith("claim:") for f in flags)
        assert result.phase["complete"] and result.phase["phase_id"] == "p2" and result.phase["on_complete"] == "started"
        # the real git history the agents made, through the real CLI's Bash tool
        log = subprocess.run(["git", "--git-dir", str(result.sandbox / "origin.git"), "log", "--format=%s", "main"],
                             capture_output=True, text=True, check=True).stdout.splitlines()[::-1]
        assert log[1:] == [
            "claim(G1): wc counts lines, words and bytes", "review(G1): FAIL - no test covers empty input",
            "claim(G1): cover empty input", "review(G1): PASS", "status(p1): every gate has a PASS",
            "claim(G2): --json output", "review(G2): PASS", "status(p2): every gate has a PASS",
        ]
        builder_log = (result.sandbox / "run" / "logs" / "builder.log").read_text()  # the logs service
        assert "tool  Bash(" in builder_log and "claim(G1): wc counts lines, words and bytes" in builder_log
        report = (result.sandbox / "report" / "REPORT.md").read_text()
        assert "review(G2): PASS" in report
        actions = [(e.get("agent"), e["action"]) for e in result.events]
        assert actions.count(("adversary", "ping")) == 3 and actions.count(("builder", "ping")) == 3
        assert actions.count(("", "sequence-complete")) == 1 and actions.count(("reporter", "on-complete")) == 1
        assert ("builder", "advance") in actions and ("adversary", "advance") in actions
        # the ledger: exactly what the playbook sent, per phase and per gate — a gate from the
        # tool result of its claim commit, or the end of the commit's git second when the result
        # (after `git push`) came later (tokens.claims): either way the builder's reply to that
        # result is the gate's, whatever the git second or the watchdog's ticks
        assert [r["phase_id"] for r in result.tokens] == ROW_IDS
        assert rows_problems(loop_rows(result.tokens), expected_rows()) == []
        assert [r.get("opened_by") in ("transcript", "git") for r in result.tokens if r["gate"]] == [True, True]
        replies = orchestrator_replies(result.sandbox / "run" / "homes" / "orchestrator")
        assert orchestrator_problems(result.tokens, result.events, replies) == []
        # hooks on (the claude preset): every ping/nudge/wake/probe confirmed by the CLI's own
        # UserPromptSubmit, and the three witnesses never disagreed long enough to be reported
        deliveries = [e for e in result.events if e["action"] in ("ping", "nudge", "wake", "probe")]
        assert deliveries and all(e.get("confirmed") == "hook" for e in deliveries), [(e.get("agent"), e["action"], e.get("confirmed")) for e in deliveries]
        assert [e for e in result.events if e["action"] == "truth-conflict"] == []
        assert [e for e in result.events if e["action"] == "delivery-failed"] == []
    finally:
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)
