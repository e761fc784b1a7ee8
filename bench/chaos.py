#!/usr/bin/env python3
"""Chaos bench (issue 12): the watchdog SIGKILLed again and again through whole rehearsals.

    .venv/bin/python bench/chaos.py [--runs 5] [--seed 1] [--max-kills N] [--odds paste=1,start=0.5] [--json FILE]

Each run is `agents rehearse run examples/builder-adversary` (the real Claude Code CLI against
the scripted model, sandboxed) with a `tests.support.chaos.Killer` on its watchdog: a SIGKILL
0.2–2.5 s (seeded) after each watchdog took the project lock, and at the riskiest moments
(right after a paste reached a pane, a state/token checkpoint, a start's launch spec, an event,
the SEQUENCE-COMPLETE marker). Only the watchdog's pane launcher brings it back. After each run
the invariants are checked (`chaos.check_run`): end state, the playbook's git story, every ping
received exactly once (the agents' transcripts), the reporter once, ledger = `tokens --scan`,
every kill followed by a launcher restart, no temp files left.

Prints per run: kills (by reason), launcher restarts, time to the next lock holder and to the
next watchdog's first tick (p50/p95), the run's wall time and each invariant that broke. Exits 1
when an invariant broke in any run. The runs use a private TMPDIR (removed at the end), so a
temp file a kill leaks there (a paste's) is seen too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's package and tests.support
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

from agent_orchestrator.rehearsal.runner import run_rehearsal
from agent_orchestrator.runtime.clis import find_cli
from agent_orchestrator.runtime.launcher import supervision
from agent_orchestrator.runtime.project import Project
from tests.support.chaos import DEFAULT_ODDS, MOMENTS, ChaosReport, Killer, check_run, percentile

EXAMPLE = REPO / "examples" / "builder-adversary"


def parse_odds(text: str) -> dict[str, float]:
    odds = dict(DEFAULT_ODDS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in MOMENTS:
            raise SystemExit(f"--odds: unknown moment {name!r} (one of {', '.join(MOMENTS)})")
        odds[name] = float(value)
    return odds


def one_run(index: int, seed: int, args: argparse.Namespace, claude: str, tmp: Path) -> dict[str, Any]:
    held: dict[str, Any] = {}

    def during(project: Project):
        killer = Killer(project.log_dir, project.config.defaults.tmux_socket, seed=seed, odds=args.odds,
                        max_kills=args.max_kills).start()

        def stop() -> None:
            held["report"] = killer.stop()
            held["supervise"] = supervision(project.spec_dir, project.config.watchdog_session)

        return stop

    lines: list[str] = []
    result = run_rehearsal(EXAMPLE, timeout=args.timeout, keep=True, claude=claude, progress=lines.append, during=during)
    report: ChaosReport = held.get("report") or ChaosReport(seed)
    row: dict[str, Any] = {"run": index, "seed": seed, "ok": result.ok, "reason": result.reason, "wall_s": round(result.elapsed, 1),
                           "kills": len(report.kills), "by_reason": report.by_reason(), "killer_errors": report.errors,
                           "back_s": [round(k.back_s, 3) for k in report.kills if k.back_s is not None],
                           "recovered_s": [round(v, 3) for v in report.recovered()]}
    problems: list[str] = [] if result.ok else [f"end state not reached: {result.reason}"]
    try:
        if (result.sandbox / "origin.git").exists():
            check = check_run(result.sandbox, result.events, result.tokens, kills=len(report.kills), supervise=held.get("supervise"))
            problems += check.problems
            row["figures"] = check.figures
        leaked = sorted(p.name for p in tmp.glob("ao-paste-*"))
        if leaked:
            problems.append(f"temp files in TMPDIR: {leaked}")
            for p in tmp.glob("ao-paste-*"):
                p.unlink(missing_ok=True)
    finally:
        if args.keep or (args.keep_failed and problems):
            row["sandbox"] = str(result.sandbox)
        else:
            shutil.rmtree(result.sandbox.parent, ignore_errors=True)
    row["problems"] = problems + [f"killer: {e}" for e in report.errors]
    if problems and not result.ok:
        row["tail"] = lines[-30:]
    return row


def show(row: dict[str, Any]) -> None:
    back, rec = row["back_s"], row["recovered_s"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(row["by_reason"].items()))
    figures = row.get("figures", {})
    print(f"run {row['run']} (seed {row['seed']}): {row['wall_s']:.0f} s, {row['kills']} kills ({reasons}); "
          f"launcher restarts {figures.get('launcher_restarts', '?')}; back p50 {percentile(back, .5):.2f} s p95 "
          f"{percentile(back, .95):.2f} s; first tick p50 {percentile(rec, .5):.2f} s p95 {percentile(rec, .95):.2f} s; "
          f"commits {figures.get('commits', '?')}, pings {figures.get('pings', '?')}")
    for problem in row["problems"]:
        print(f"    BROKEN: {problem}")
    if not row["problems"]:
        print("    invariants: end state, git story, pings once, reporter once, ledger = scan, launcher restarts = kills, "
              "no temp files — all held")
    for line in row.get("tail", []):
        print(f"    | {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rehearsals (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run (run i uses seed + i)")
    parser.add_argument("--max-kills", type=int, default=None, help="stop killing after this many per run (default: never)")
    parser.add_argument("--odds", type=parse_odds, default=dict(DEFAULT_ODDS),
                        help="moment=odds pairs overriding the defaults " + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_ODDS.items()))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per rehearsal (default 600)")
    parser.add_argument("--keep-failed", action="store_true", help="keep the sandbox of a run that broke an invariant")
    parser.add_argument("--keep", action="store_true", help="keep every run's sandbox")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args(argv)
    claude = find_cli("claude")
    if claude is None:
        print("the Claude Code CLI is not installed at its pinned version: run scripts/ensure-claude.sh", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ao-chaos-bench-"))
    saved_tmp = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp)  # the rehearsal's tmux server, watchdog and agents inherit it
    tempfile.tempdir = str(tmp)
    rows = []
    began = time.monotonic()
    load = os.getloadavg()[0]
    try:
        for i in range(args.runs):
            row = one_run(i + 1, args.seed + i, args, claude, tmp)
            rows.append(row)
            show(row)
    finally:
        tempfile.tempdir = None
        if saved_tmp is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_tmp
        if any("sandbox" in r for r in rows):
            print(f"kept: {tmp} (remove it when done)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    back = [v for r in rows for v in r["back_s"]]
    rec = [v for r in rows for v in r["recovered_s"]]
    kills = sum(r["kills"] for r in rows)
    broken = [r for r in rows if r["problems"]]
    reasons: dict[str, int] = {}
    for r in rows:
        for k, v in r["by_reason"].items():
            reasons[k] = reasons.get(k, 0) + v
    print(f"\n{len(rows)} runs, {kills} kills ({', '.join(f'{k} {v}' for k, v in sorted(reasons.items()))}), "
          f"{sum(r.get('figures', {}).get('launcher_restarts', 0) for r in rows)} launcher restarts, "
          f"{time.monotonic() - began:.0f} s, load {load:.2f} → {os.getloadavg()[0]:.2f}")
    print(f"back (next lock holder): p50 {percentile(back, .5):.2f} s, p95 {percentile(back, .95):.2f} s, max {max(back, default=float('nan')):.2f} s")
    print(f"recovered (its first tick on disk): p50 {percentile(rec, .5):.2f} s, p95 {percentile(rec, .95):.2f} s, "
          f"max {max(rec, default=float('nan')):.2f} s")
    print(f"runs with every invariant held: {len(rows) - len(broken)}/{len(rows)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
