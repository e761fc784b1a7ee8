"""Issue 17's done-when check: examples/builder-adversary with slow turns — every playbook rule's
final reply held `SLOW_S` seconds (`hold`), so reviews and claims arrive while the other agent is
still in its turn — completes with zero watchdog messages submitted into a busy turn, counted from
the hook events (the same run with `[watchdog] message_wait = {default = 0.1}`, every message
handed over at once, counted 4), and with the token ledger of the unslowed example
(tests/e2e/test_rehearsal.py checks the unslowed run against the same playbook numbers).
The real Claude Code CLI at its current pin, against the scripted model.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from agent_orchestrator.rehearsal.runner import _COPY_IGNORE, _remove_cli_temp, run_rehearsal
from agent_orchestrator.runtime.clis import load_matrix
from tests.support.clis import cli_at
from tests.support.truth_timeline import hook_events

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "builder-adversary"
SLOW_S = 12  # seconds every final reply is held
# The playbook's rules for the loop agents and the reporter, and how many turns each answers in the
# story (the orchestrator's depend on how many claims the watcher flags: not counted).
TURNS = {"builder-p1": 1, "builder-fixes-G1": 1, "builder-done-p1": 1, "builder-p2": 1, "builder-done-p2": 1,
         "adversary-waits": 2, "adversary-fails-G1": 1, "adversary-passes-G1": 1, "adversary-passes-G2": 1, "reporter": 1}


def into_busy_turns(log_dir: Path, agent: str) -> tuple[int, int]:
    """(watchdog messages submitted while the agent's previous prompt had no Stop yet, watchdog
    messages submitted) from the agent's hook events. In a rehearsal every prompt after the first
    of a session (its kickoff) is the watchdog's."""
    open_turn: dict[str, bool] = {}
    into = total = 0
    for e in hook_events(log_dir, agent):
        session = str(e.data.get("session_id") or "")
        if e.event == "UserPromptSubmit":
            if session in open_turn:
                total += 1
                into += open_turn[session]
            open_turn[session] = True
        elif e.event in ("Stop", "StopFailure"):
            open_turn[session] = False
    return into, total


def playbook_tokens(rules: list[dict[str, Any]]) -> dict[str, int]:
    """Tokens per playbook rule: its usage × the responses it gives (one per step + the final text)."""
    return {r["id"]: sum(r["usage"].values()) * (len(r.get("steps", [])) + 1) for r in rules}


def test_slow_builder_adversary_never_submits_into_a_busy_turn(tmp_path: Path) -> None:
    claude = cli_at("claude", load_matrix()["claude"].current)
    example = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, example, ignore=_COPY_IGNORE)
    path = example / "playbooks" / "rehearsal.toml"
    book = tomllib.loads(path.read_text(encoding="utf-8"))
    for rule in book["rule"]:
        rule["hold"] = SLOW_S  # the turn stays busy after it pushed: the other agent's answer comes mid-turn
    path.write_text(tomli_w.dumps(book), encoding="utf-8")
    lines: list[str] = []
    result = run_rehearsal(example, timeout=540, keep=True, claude=claude, progress=lines.append)
    try:
        assert result.ok, f"{result.reason}\n" + "\n".join(lines[-60:])
        assert result.reason == "SEQUENCE-COMPLETE; on_complete reporter ran", result.reason
        log_dir = result.sandbox / "run"
        agents = ("builder", "adversary", "orchestrator", "reporter")  # the `claims` watcher logs its own `flag` events
        counts = {a: into_busy_turns(log_dir, a) for a in agents}
        held = [e for e in result.events if e["action"] == "message-held" and "busy" in e["reason"]]
        deliveries = [e for e in result.events if e["action"] in ("ping", "nudge", "wake", "probe", "flag", "reannounce")
                      and e.get("agent") in agents]
        print(f"\n-- builder-adversary with every final reply held {SLOW_S}s: {result.reason} in {result.elapsed:.0f}s")
        print(f"   watchdog messages submitted (into a busy turn / all), per agent: {counts}")
        print(f"   messages held for a busy turn: {[(e['agent'], e['reason']) for e in held]}")
        print(f"   deliveries (agent, kind, waited_s, confirmed): "
              f"{[(e['agent'], e['action'], e.get('waited_s', 0), e.get('confirmed')) for e in deliveries]}")
        assert sum(into for into, _ in counts.values()) == 0, counts
        assert counts["builder"][1] >= 3 and counts["adversary"][1] >= 3, counts  # the pings were there to count
        # The slow turns did make pings wait (the adversary's held kickoff alone is 12 s, the builder's
        # claim comes after three tool calls); how many more collide depends on the machine's speed.
        assert [e for e in held if e["agent"] in ("builder", "adversary")], f"no ping met a busy turn: raise SLOW_S\n{held}"
        assert all(e.get("confirmed") == "hook" for e in deliveries), deliveries
        assert not [e for e in result.events if e["action"] in ("delivery-failed", "delivery-abandoned", "message-unconfirmed")]
        # The totals do not grow: the model served each scripted turn's responses exactly once (one
        # per step and the final reply; none cut off, none added) — the unslowed example's numbers.
        journal = [json.loads(line) for line in (log_dir / "model-journal.jsonl").read_text(encoding="utf-8").splitlines() if line]
        served = Counter(j["rule"] for j in journal if j.get("kind") in ("text", "tool") and j.get("rule") in TURNS)
        rules = {r["id"]: r for r in book["rule"]}
        assert served == {rid: n * (len(rules[rid].get("steps", [])) + 1) for rid, n in TURNS.items()}, served
        assert not [j for j in journal if j.get("kind") == "disconnected"]
        # The ledger (read from the transcripts) per phase and loop agent: the playbook's numbers.
        rows = {r["phase_id"]: r for r in result.tokens}
        assert list(rows) == ["p1:G1", "p1", "p2:G2", "p2"]
        t = playbook_tokens(book["rule"])
        expected = {("p1", "builder"): t["builder-p1"] + t["builder-fixes-G1"] + t["builder-done-p1"],
                    ("p1", "adversary"): t["adversary-waits"] + t["adversary-fails-G1"] + t["adversary-passes-G1"],
                    ("p2", "builder"): t["builder-p2"] + t["builder-done-p2"],
                    ("p2", "adversary"): t["adversary-waits"] + t["adversary-passes-G2"]}
        got = {(p, a): rows[p]["agents"][a]["total"] for p, a in expected}
        print(f"   tokens per phase and loop agent: {got} (playbook: {expected}); "
              f"orchestrator: {[rows[p]['agents'].get('orchestrator', {}).get('total', 0) for p in ('p1', 'p2')]}")
        # Exactly the playbook's: a turn's last reply is stamped before the Stop hook that let the
        # phase end, and the phase ends where the observation that read that hook ended
        # (`Tick.phase_end`); a reply written to disk later still counts (`PHASE_SETTLE`).
        assert got == expected, (got, expected)
    finally:
        _remove_cli_temp(result.sandbox.parent)
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)
