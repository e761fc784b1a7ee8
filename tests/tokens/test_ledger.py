"""The token ledger: per-phase and per-gate records from real-format transcripts, across restarts."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agent_orchestrator.tokens.ledger import Ledger, open_buckets, read_ledger
from tests.support.transcripts import claude_assistant

T0 = 1_800_000_000.0


class Team:
    """Two agents' Claude transcripts in a temp dir, appended to as the test goes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = {"builder": root / "b.jsonl", "adversary": root / "a.jsonl"}
        for path in self.files.values():
            path.write_text("")
        self.n = 0

    def say(self, agent: str, out: int, inp: int = 10, read: int = 100, write: int = 5) -> None:
        """One API response written as three lines (streaming snapshots), as Claude Code does."""
        self.n += 1
        mid, rid = f"msg_{self.n}", f"req_{self.n}"
        with self.files[agent].open("a") as fh:
            for snapshot in (1, out // 2, out):
                fh.write(claude_assistant(mid, rid, out=snapshot, inp=inp, read=read, write=write) + "\n")

    def files_of(self, agent: str) -> list[tuple[str, Path]]:
        return [("claude", self.files[agent])]

    def ledger(self, log_dir: Path, granularity: str = "gate") -> Ledger:
        return Ledger(log_dir, ["builder", "adversary"], self.files_of, granularity)


def test_phase_and_gate_records(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", out=40)
    ledger.poll(T0, "p1", None)
    team.say("builder", out=100)
    ledger.poll(T0 + 10, "p1", "G1")
    team.say("adversary", out=20)
    ledger.poll(T0 + 20, "p1", "G1")
    ledger.close_gate(T0 + 30, "p1", "G1")
    team.say("builder", out=7)
    ledger.poll(T0 + 40, "p1", "G2")
    records = ledger.close_phase(T0 + 50, "p1")
    assert [r["phase_id"] for r in records] == ["p1:G2", "p1"]
    log_records = read_ledger(log)
    assert [r["phase_id"] for r in log_records] == ["p1:G1", "p1:G2", "p1"]
    g1, g2, phase = log_records
    assert g1["gate"] == "G1" and g1["agents"]["builder"]["output"] == 100 and g1["agents"]["adversary"]["output"] == 20
    assert g1["started"] == T0 + 10 and g1["ended"] == T0 + 30 and g1["duration_s"] == 20
    assert g2["agents"] == {"builder": {"input": 10, "output": 7, "cache_read": 100, "cache_write": 5, "total": 122}}
    # the phase holds everything, including tokens spent before the first claim
    assert phase["agents"]["builder"]["output"] == 40 + 100 + 7 and phase["agents"]["adversary"]["output"] == 20
    assert phase["total"]["total"] == sum(a["total"] for a in phase["agents"].values())
    assert phase["total"]["input"] == 40 and phase["duration_s"] == 50


def test_phase_granularity_writes_no_gate_records(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log", granularity="phase")
    team.say("builder", out=5)
    ledger.poll(T0, "p1", "G1")
    assert ledger.close_gate(T0 + 1, "p1", "G1") is None
    assert [r["phase_id"] for r in ledger.close_phase(T0 + 2, "p1")] == ["p1"]


def test_a_restart_between_polls_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    first = team.ledger(log)
    team.say("builder", out=30)
    first.poll(T0, "p1", "G1")
    # the watchdog is killed here (after a poll, before any record); a new one takes over
    team.say("builder", out=12)
    second = team.ledger(log)
    second.poll(T0 + 5, "p1", "G1")
    second.poll(T0 + 6, "p1", "G1")  # nothing new: nothing added
    gate, phase = second.close_phase(T0 + 10, "p1")
    assert gate["agents"]["builder"]["output"] == 42 and phase["agents"]["builder"]["output"] == 42
    assert gate["started"] == T0  # the open bucket survived the restart


def test_live_buckets_and_history_before_the_run(tmp_path: Path) -> None:
    team = Team(tmp_path)
    team.say("adversary", out=999)  # an earlier run's transcript, last written an hour ago
    run_started = time.time() - 60
    os.utime(team.files["adversary"], (run_started - 3600, run_started - 3600))
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", out=8)
    ledger.poll(T0, "p1", "G1", since=run_started)
    live = open_buckets(log)
    assert [r["phase_id"] for r in live] == ["p1", "p1:G1"]
    assert live[0]["ended"] is None and live[0]["agents"] == {"builder": live[0]["agents"]["builder"]}
    # once known, later appends to the old file count
    team.say("adversary", out=3)
    ledger.poll(T0 + 1, "p1", "G1", since=run_started)
    assert open_buckets(log)[0]["agents"]["adversary"]["output"] == 3


def test_an_idle_poll_rewrites_nothing_and_old_claude_history_is_skipped(tmp_path: Path) -> None:
    team = Team(tmp_path)
    for _ in range(50):
        team.say("adversary", out=1)  # an earlier run: never read, only skipped to its end
    run_started = time.time() - 60
    os.utime(team.files["adversary"], (run_started - 3600, run_started - 3600))
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", out=3)
    ledger.poll(T0, "p1", None, since=run_started)
    before = ledger.state_path.stat().st_mtime_ns
    assert ledger.scanner.to_state()["files"][str(team.files["adversary"].resolve())]["keys"] == []
    time.sleep(0.01)
    assert ledger.poll(T0 + 1, "p1", None, since=run_started) == {}
    assert ledger.state_path.stat().st_mtime_ns == before  # nothing appended: not rewritten
    team.say("adversary", out=4)
    assert ledger.poll(T0 + 2, "p1", None, since=run_started)["adversary"].output == 4


def test_a_phase_moved_without_a_close_still_gets_its_record(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", out=9)
    ledger.poll(T0, "p1", None)
    ledger.poll(T0 + 5, "p2", None)  # e.g. `agents phase set p2`: no PhaseChange closed p1
    [record] = read_ledger(tmp_path / "log")
    assert record["phase_id"] == "p1" and record["agents"]["builder"]["output"] == 9
