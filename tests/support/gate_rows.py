"""The builder-adversary rehearsal's token rows as its playbook scripts them, for the e2e check and
bench/gate_rows.py.

Each playbook rule answers with one response per step plus a final text, each reporting the
rule's `usage`. A gate opens at the tool result of its claim commit (`tokens.claims`), so of the
rule whose step makes the claim, only the responses after that step belong to the gate; a rule
answering a ping (a claim, a review) lies wholly inside the gate. The orchestrator answers the
claims watcher's flags with the playbook's default reply (`DEFAULT_USAGE`); how many flags a
gate gets depends on whether a review landed within the watcher's 2 s window, so its share is
checked against the flags it was given, not against a fixed sum.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from agent_orchestrator.rehearsal.playbook import DEFAULT_USAGE
from agent_orchestrator.transcripts.records import record_time

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "builder-adversary"
LOOP_AGENTS = ("builder", "adversary")
ROW_IDS = ["p1:G1", "p1", "p2:G2", "p2"]


def rules() -> dict[str, dict[str, Any]]:
    """The playbook's rules by id."""
    with (EXAMPLE / "playbooks" / "rehearsal.toml").open("rb") as fh:
        return {r["id"]: r for r in tomllib.load(fh)["rule"]}


def playbook_tokens() -> dict[str, int]:
    """Tokens per playbook rule: its usage × the responses it gives (one per step + the final text)."""
    return {rid: sum(r["usage"].values()) * (len(r.get("steps", [])) + 1) for rid, r in rules().items()}


def after_claim(rule_id: str) -> int:
    """Tokens of the responses of `rule_id` after the step that commits and pushes its claim."""
    rule = rules()[rule_id]
    steps = rule.get("steps", [])
    claim = next(i for i, s in enumerate(steps) if "git commit" in s["bash"] and "claim(" in s["bash"])
    return sum(rule["usage"].values()) * (len(steps) - claim)


def expected_rows() -> dict[str, dict[str, int]]:
    """{row id: {loop agent: tokens}} for every phase and gate row, from the playbook alone."""
    t = playbook_tokens()
    return {
        "p1:G1": {"builder": after_claim("builder-p1") + t["builder-fixes-G1"] + t["builder-done-p1"],
                  "adversary": t["adversary-fails-G1"] + t["adversary-passes-G1"]},
        "p1": {"builder": t["builder-p1"] + t["builder-fixes-G1"] + t["builder-done-p1"],
               "adversary": t["adversary-waits"] + t["adversary-fails-G1"] + t["adversary-passes-G1"]},
        "p2:G2": {"builder": after_claim("builder-p2") + t["builder-done-p2"], "adversary": t["adversary-passes-G2"]},
        "p2": {"builder": t["builder-p2"] + t["builder-done-p2"], "adversary": t["adversary-waits"] + t["adversary-passes-G2"]},
    }


def loop_rows(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{row id: {loop agent: tokens}} of the ledger's records."""
    return {r["phase_id"]: {a: int(r["agents"].get(a, {}).get("total", 0)) for a in LOOP_AGENTS} for r in records}


def orchestrator_replies(home: Path) -> list[float]:
    """Epoch times of the orchestrator's replies: the `assistant` records with usage in the Claude
    Code transcripts under its scratch `home` (2.1.332; one record per message here), oldest first."""
    times: dict[str, float] = {}
    for path in (home / ".claude" / "projects").glob("*/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            msg = rec.get("message") if rec.get("type") == "assistant" else None
            when = record_time(rec)
            if isinstance(msg, dict) and msg.get("usage") and when is not None:
                times.setdefault(str(msg.get("id")), when)
    return sorted(times.values())


def orchestrator_problems(records: list[dict[str, Any]], events: list[dict[str, Any]],
                          replies: list[float] | None = None) -> list[str]:
    """Where the orchestrator's share of a gate row is not one default reply per watcher flag
    (empty when every gate agrees). A flag belongs to the gate it was given in — or, with the
    orchestrator's reply times (`orchestrator_replies`), to the gate its reply was stamped in: a
    flag given just before SEQUENCE-COMPLETE is answered after it, in no phase at all (the
    completion waits for the loop agents' turns, not for persistent agents')."""
    flags = [float(e["ts"]) for e in events if e.get("agent") == "orchestrator" and e.get("action") == "flag"]
    if replies is not None:
        flags = [next((t for t in replies if t >= ts), float("inf")) for ts in flags]
    problems = []
    for r in records:
        if not r.get("gate"):
            continue
        given = sum(1 for ts in flags if r["started"] <= ts < r["ended"])
        got = int(r["agents"].get("orchestrator", {}).get("total", 0))
        if got != given * DEFAULT_USAGE.total:
            problems.append(f"{r['phase_id']}: orchestrator {got:,} tokens for {given} flag(s) of {DEFAULT_USAGE.total:,}")
    return problems


def one_response(rule_id: str, rule_set: dict[str, dict[str, Any]] | None = None) -> int:
    """Tokens of one response of playbook rule `rule_id` (its `usage` summed)."""
    return sum((rule_set or rules())[rule_id]["usage"].values())


def rows_problems(got: dict[str, dict[str, int]], want: dict[str, dict[str, int]]) -> list[str]:
    """Where the ledger's loop rows differ from the playbook's (empty: every row is exact)."""
    return [f"{row} {agent}: ledger {got.get(row, {}).get(agent, 0):,} ≠ playbook {n:,}"
            for row, agents in want.items() for agent, n in agents.items() if got.get(row, {}).get(agent, 0) != n]
