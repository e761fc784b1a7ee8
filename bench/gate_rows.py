#!/usr/bin/env python3
"""The builder-adversary rehearsal run N times: are the per-gate token rows the same every run, and
the playbook's own sums? (Not a test; prints figures. The e2e check is tests/e2e/test_rehearsal.py.)

    .venv/bin/python bench/gate_rows.py [--runs 3] [--json]

Each run is `agents rehearse run examples/builder-adversary` (the real Claude Code CLI at its
current pin against the scripted model, in a fresh sandbox, cleaned up after). Printed per run:
the ledger's rows (phase and gate, tokens per agent), where each gate opened (`opened_by`), and
the run's wall time. Then, across runs: whether the loop agents' rows are identical and equal to
the playbook's sums (`tests/support/gate_rows.py`), and the orchestrator's share of each gate row
next to the claims-watcher flags it answered in that gate (one default reply of 13,347 tokens
each: how many flags a gate gets depends on whether a review lands within the watcher's 2 s
window, so that share may differ between runs while agreeing with its flags).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent_orchestrator.rehearsal.runner import RehearsalError, run_rehearsal
from tests.support.gate_rows import EXAMPLE, ROW_IDS, expected_rows, loop_rows, orchestrator_problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    expected = expected_rows()
    runs = []
    for i in range(1, args.runs + 1):
        try:
            result = run_rehearsal(EXAMPLE, timeout=300, progress=lambda _: None)
        except RehearsalError as exc:  # e.g. the pinned CLI is not installed: says which script installs it
            print(f"gate_rows: {exc}", file=sys.stderr)
            return 2
        if not result.ok:
            print(f"run {i}: FAILED — {result.reason}")
            return 1
        rows = {r["phase_id"]: {a: u["total"] for a, u in sorted(r["agents"].items())} for r in result.tokens}
        flags = sum(1 for e in result.events if e.get("agent") == "orchestrator" and e.get("action") == "flag")
        runs.append({"run": i, "elapsed_s": round(result.elapsed, 1), "rows": rows, "loop": loop_rows(result.tokens),
                     "order": [r["phase_id"] for r in result.tokens], "opened_by": [r.get("opened_by") for r in result.tokens if r["gate"]],
                     "orchestrator": orchestrator_problems(result.tokens, result.events), "flags": flags})
        print(f"run {i} ({result.elapsed:.0f} s): gates opened by {runs[-1]['opened_by']}; orchestrator flags answered: {flags}")
        for pid in ROW_IDS:
            print(f"  {pid:6} " + "  ".join(f"{a} {t:>7,}" for a, t in rows.get(pid, {}).items()))
    identical = all(r["loop"] == runs[0]["loop"] and r["order"] == ROW_IDS for r in runs)
    as_scripted = all(r["loop"] == expected for r in runs)
    consistent = all(not r["orchestrator"] for r in runs)
    whole_rows = all(r["rows"] == runs[0]["rows"] for r in runs)
    print(f"\nloop agents' rows identical in {len(runs)} runs: {identical}; equal to the playbook's sums: {as_scripted}")
    print(f"whole rows (orchestrator included) identical: {whole_rows}; orchestrator = one default reply per flag in every gate: "
          f"{consistent}" + ("" if consistent else f" — {[r['orchestrator'] for r in runs]}"))
    print("playbook: " + "; ".join(f"{pid} " + ", ".join(f"{a} {t:,}" for a, t in expected[pid].items()) for pid in ROW_IDS))
    if args.json:
        print(json.dumps({"runs": runs, "identical": identical, "as_scripted": as_scripted, "orchestrator_consistent": consistent}))
    return 0 if identical and as_scripted and consistent else 1


if __name__ == "__main__":
    sys.exit(main())
