"""The decision ledger: idempotent appends (also across processes), resolutions appended and
never rewritten, open counts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, decide, namespace
from agent_orchestrator.watchers.ledger import DecisionLedger, open_counts

ROOT = Path(__file__).resolve().parents[2]
NS = namespace("test")
T0 = 1_700_000_000.0


def decision(entity: str = "a", host: str = "w"):
    w = FlagWatcher("test", NS, "test-context", "test-choice", lambda now: [])
    (d,) = decide(w, [Entity(entity, "open", T0)], host=host, now=T0 + 30, window=30)
    return d


APPENDER = """
import sys, time
from pathlib import Path
from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, decide, namespace
from agent_orchestrator.watchers.ledger import DecisionLedger
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
ledger = DecisionLedger(Path(sys.argv[1]))
w = FlagWatcher("test", namespace("test"), "c", "x", lambda now: [])
new = 0
for i in range(40):
    for d in decide(w, [Entity(f"e{i % 8}", "open", 1000.0)], host="w", now=2000.0, window=30):
        new += ledger.append(d)
print(new)
"""


def test_two_processes_reflagging_the_same_episodes_write_each_once(tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path), str(go)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(0.3)  # both are importing and waiting for the start signal
    go.touch()
    outputs = [int(p.communicate(timeout=30)[0].strip()) for p in procs]
    assert sum(outputs) == 8  # 8 episodes, each written by exactly one of the two
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert len(lines) == 8
    assert len(DecisionLedger(tmp_path).flags()) == 8


def test_resolving_appends_a_record_and_never_rewrites(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    d = decision()
    assert ledger.append(d) and not ledger.append(d)
    before = (tmp_path / "decisions.jsonl").read_text()
    assert ledger.resolve(d.id, by="me", note="done", now=T0 + 40) is not None
    assert ledger.resolve(d.id, by="me", now=T0 + 41) is None  # already closed
    after = (tmp_path / "decisions.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == 2
    other = DecisionLedger(tmp_path)
    assert [f.open for f in other.flags()] == [False] and other.flags(open_only=True) == []
    assert other.find(d.id[:8])[0].id == d.id
    with pytest.raises(KeyError):
        other.resolve("nope", by="me")


def test_open_counts_are_per_hosting_agent(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    for entity, host in (("a", "w"), ("b", "w"), ("c", "v")):
        ledger.append(decision(entity, host))
    assert open_counts(ledger) == {"w": 2, "v": 1}
    ledger.append(decision("d", "v"), closed_note="an action, not a flag")
    ledger.resolve(decision("c", "v").id, by="me")
    assert open_counts(ledger) == {"w": 2}
