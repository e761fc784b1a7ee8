"""The token ledger: per-phase and per-gate records from real-format transcripts, charged by each
record's own time, across restarts, kills and corrupt state files."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.tokens.claims import Claim
from agent_orchestrator.tokens.ledger import Ledger, open_buckets, read_ledger
from tests.support.transcripts import c_tool_result, claude_assistant

T0 = 1_790_000_000.0  # 2026-09: transcripts written by the test are newer than every record in them


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Team:
    """Two agents' Claude transcripts in a temp dir, appended to as the test goes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = {"builder": root / "b.jsonl", "adversary": root / "a.jsonl"}
        for path in self.files.values():
            path.write_text("")
        self.n = 0

    def _write(self, agent: str, lines: list[str]) -> None:
        with self.files[agent].open("a") as fh:
            fh.writelines(line + "\n" for line in lines)

    def say(self, agent: str, out: int, at: float, inp: int = 10, read: int = 100, write: int = 5, block: dict | None = None) -> None:
        """One API response stamped `at`, written as three lines (streaming snapshots), as Claude
        Code does."""
        self.n += 1
        mid, rid = f"msg_{self.n}", f"req_{self.n}"
        lines = []
        for snapshot in (1, out // 2, out):
            rec = json.loads(claude_assistant(mid, rid, out=snapshot, inp=inp, read=read, write=write, block=block))
            rec["timestamp"] = iso(at)
            lines.append(json.dumps(rec, separators=(",", ":")))
        self._write(agent, lines)

    def commit(self, agent: str, claim: Claim, at: float, out: int = 3) -> None:
        """The reply that runs `git commit -m <subject>` (stamped `at`, just before the commit) and,
        0.15 s later, the command's result naming the commit."""
        call = {"type": "tool_use", "id": f"toolu_{self.n}", "name": "Bash", "input": {"command": f"git commit -m '{claim.subject}'"}}
        self.say(agent, out, at, block=call)
        self._write(agent, [c_tool_result(iso(at + 0.15), f"toolu_{self.n - 1}", f"[main {claim.sha[:7]}] {claim.subject}")])

    def files_of(self, agent: str) -> list[tuple[str, Path]]:
        return [("claude", self.files[agent])]

    def ledger(self, log_dir: Path, granularity: str = "gate") -> Ledger:
        return Ledger(log_dir, ["builder", "adversary"], self.files_of, granularity)


G1 = Claim("G1", "aaaaaaa1111", "claim(G1): lexer", T0 + 5)
G2 = Claim("G2", "bbbbbbb2222", "claim(G2): parser", T0 + 20)


def outputs(rec: dict[str, Any]) -> dict[str, int]:
    return {name: u["output"] for name, u in rec["agents"].items()}


def story(team: Team, ledger: Ledger, schedule: str) -> list[dict[str, Any]]:
    """Phase p1 with gates G1 and G2, then p2: the same transcripts, read on different ticks."""
    writes: list[tuple[float, Callable[[], None]]] = [
        (T0 + 1, lambda: team.say("builder", 40, T0 + 1)),          # before any claim: p1 only
        (T0 + 5.3, lambda: team.commit("builder", G1, T0 + 5.3)),  # the reply that commits: still before G1
        (T0 + 5.6, lambda: team.say("builder", 7, T0 + 5.6)),      # same git second, after the commit: G1
        (T0 + 8, lambda: team.say("adversary", 20, T0 + 8)),
        (T0 + 20.2, lambda: team.commit("builder", G2, T0 + 20.2, out=4)),
        (T0 + 20.5, lambda: team.say("builder", 11, T0 + 20.5)),
        (T0 + 30, lambda: team.say("adversary", 50, T0 + 30)),
        (T0 + 39, lambda: team.say("builder", 2, T0 + 39)),        # the turn that pushed the done marker
        (T0 + 41, lambda: team.say("builder", 9, T0 + 41)),        # p2's kickoff, read before p1 closes
    ]
    seen = {"G1": T0 + 6.1, "G2": T0 + 21.3}  # when the watchdog sees each claim on git
    if schedule == "every-write":
        ticks = [T0 + 0.5, *[t + 0.05 for t, _ in writes[:-1]], T0 + 22.5, T0 + 35]
    elif schedule == "late-and-few":
        ticks = [T0 + 33, T0 + 38]
    else:
        ticks = [T0 + 39.5]
    gate: str | None = None
    pending = list(writes)
    for now in ticks:  # as a watchdog tick: observe (poll), decide, then the effects in order
        while pending and pending[0][0] <= now and pending[0][0] < T0 + 40:
            pending.pop(0)[1]()
        ledger.poll(now, "p1", gate, claim={"G1": G1, "G2": G2}.get(gate or ""), phase_started=T0)
        ready = ledger.ready_gates()
        for label, claim in (("G1", G1), ("G2", G2)):
            if seen[label] <= now and gate != label and (gate is None or label == "G2"):
                ledger.open_gate(now, "p1", label, claim)  # the executor, on the GateChange
                gate = label
        for _ in ready:
            ledger.close_gate(now, "p1", None)
    for _, write in pending:
        write()
    ledger.poll(T0 + 40.1, "p1", gate)  # the advance at T0 + 40: one more read, then the close
    ledger.close_phase(T0 + 40.1, "p1", T0 + 40)
    ledger.poll(T0 + 45, "p2", None)
    return read_ledger(ledger.log_dir)


@pytest.mark.parametrize("schedule", ["every-write", "late-and-few", "once"])
def test_rows_follow_the_records_own_times_however_the_ticks_fall(tmp_path: Path, schedule: str) -> None:
    team = Team(tmp_path)
    records = story(team, team.ledger(tmp_path / "log"), schedule)
    assert [r["phase_id"] for r in records] == ["p1:G1", "p1:G2", "p1"]
    g1, g2, p1 = records
    assert outputs(g1) == {"builder": 7 + 4, "adversary": 20}  # 4: G2's committing reply, before G2
    assert outputs(g2) == {"builder": 11 + 2, "adversary": 50}
    assert outputs(p1) == {"builder": 40 + 3 + 7 + 4 + 11 + 2, "adversary": 20 + 50}  # p2's kickoff is not in p1
    # the gates open at the tool results that reported their commits, inside the commits' git second
    assert (g1["started"], g1["ended"], g1["opened_by"]) == (pytest.approx(T0 + 5.45, abs=1e-3), g2["started"], "transcript")
    assert (g2["started"], g2["ended"]) == (pytest.approx(T0 + 20.35, abs=1e-3), T0 + 40)
    assert (p1["started"], p1["ended"], p1["id"]) == (T0, T0 + 40, f"p1@{T0:.3f}")
    assert open_buckets(tmp_path / "log")[0]["agents"]["builder"]["output"] == 9  # p2 holds its kickoff


def test_every_schedule_gives_identical_gate_rows(tmp_path: Path) -> None:
    rows = []
    for schedule in ("every-write", "late-and-few", "once"):
        (tmp_path / schedule).mkdir()
        team = Team(tmp_path / schedule)
        rows.append([{k: r[k] for k in ("id", "phase_id", "started", "ended", "agents", "total")}
                     for r in story(team, team.ledger(tmp_path / schedule / "log"), schedule) if r["gate"]])
    assert rows[0] == rows[1] == rows[2]


def test_a_gate_record_waits_until_the_next_boundary_is_settled(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.commit("builder", G1, T0 + 5.3)
    ledger.poll(T0 + 6, "p1", None)
    ledger.open_gate(T0 + 6, "p1", "G1", G1)
    team.commit("builder", G2, T0 + 20.2)
    ledger.poll(T0 + 21, "p1", "G1")
    ledger.open_gate(T0 + 21, "p1", "G2", G2)
    ledger.poll(T0 + 21.5, "p1", "G2", claim=G2)
    # a result stamped before the end of G2's second could still be on its way to disk
    assert ledger.ready_gates() == [] and ledger.close_gate(T0 + 21.5, "p1", None) is None
    ledger.poll(T0 + 22, "p1", "G2", claim=G2)
    assert ledger.ready_gates() == ["G1"]
    rec = ledger.close_gate(T0 + 22, "p1", "G1")
    assert rec is not None and rec["ended"] == pytest.approx(T0 + 20.35, abs=1e-3) and ledger.ready_gates() == []


def test_a_claim_with_no_witness_opens_at_the_end_of_its_second(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    hand = Claim("G1", "ccccccc3333", "claim(G1): pushed by a person", T0 + 5)
    team.say("builder", 30, T0 + 5.8)  # in the commit's second: it cannot be told apart, so it is not G1's
    team.say("builder", 12, T0 + 6.2)
    ledger.poll(T0 + 7.5, "p1", "G1", claim=hand)
    [_phase, gate] = ledger.live()
    assert (gate["started"], gate["opened_by"], outputs(gate)) == (T0 + 6, "git", {"builder": 12})


def test_phase_granularity_writes_no_gate_records(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log", granularity="phase")
    team.say("builder", 5, T0)
    ledger.poll(T0, "p1", "G1", claim=G1)
    assert ledger.close_gate(T0 + 1, "p1", "G1") is None
    assert [r["phase_id"] for r in ledger.close_phase(T0 + 2, "p1")] == ["p1"]


def test_a_restart_between_polls_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    first = team.ledger(log)
    team.say("builder", 30, T0 + 1)
    first.poll(T0 + 1, "p1", "G1")
    # the watchdog is killed here (after a poll, before any record); a new one takes over
    team.say("builder", 12, T0 + 3)
    second = team.ledger(log)
    second.poll(T0 + 5, "p1", "G1")
    second.poll(T0 + 6, "p1", "G1")  # nothing new: nothing added
    gate, phase = second.close_phase(T0 + 10, "p1")
    assert outputs(gate) == {"builder": 42} and outputs(phase) == {"builder": 42}
    assert gate["started"] == T0 + 1 and gate["opened_by"] == "tick"  # opened by the first poll; survived the restart


def test_live_buckets_and_history_before_the_run(tmp_path: Path) -> None:
    team = Team(tmp_path)
    run_started = time.time() - 60
    team.say("adversary", 999, run_started - 3600)  # an earlier run's transcript, last written an hour ago
    os.utime(team.files["adversary"], (run_started - 3600, run_started - 3600))
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 8, run_started + 1)
    team.say("builder", 500, run_started - 30)  # stamped before the run began (a resumed session's history)
    ledger.poll(run_started + 2, "p1", "G1", since=run_started)
    live = open_buckets(log)
    assert [r["phase_id"] for r in live] == ["p1", "p1:G1"]
    assert live[0]["ended"] is None and outputs(live[0]) == {"builder": 8}
    # once known, later appends to the old file count
    team.say("adversary", 3, run_started + 3)
    ledger.poll(run_started + 4, "p1", "G1", since=run_started)
    assert open_buckets(log)[0]["agents"]["adversary"]["output"] == 3


def test_an_idle_poll_rewrites_nothing_and_old_claude_history_is_skipped(tmp_path: Path) -> None:
    team = Team(tmp_path)
    run_started = time.time() - 60
    for _ in range(50):
        team.say("adversary", 1, run_started - 3600)  # an earlier run: never read, only skipped to its end
    os.utime(team.files["adversary"], (run_started - 3600, run_started - 3600))
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", 3, run_started + 1)
    ledger.poll(run_started + 2, "p1", None, since=run_started)
    before = ledger.state_path.stat().st_mtime_ns
    assert ledger.scanner.to_state()["files"][str(team.files["adversary"].resolve())]["keys"] == []
    time.sleep(0.01)
    assert ledger.poll(run_started + 3, "p1", None, since=run_started) == {}
    assert ledger.state_path.stat().st_mtime_ns == before  # nothing appended: not rewritten
    team.say("adversary", 4, run_started + 4)
    assert ledger.poll(run_started + 5, "p1", None, since=run_started)["adversary"].output == 4


def test_a_phase_moved_without_a_close_ends_where_the_next_began(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None)
    team.say("builder", 4, T0 + 6)  # spent in p2, which began at T0 + 5 (`agents phase set p2`)
    ledger.poll(T0 + 8, "p2", None, phase_started=T0 + 5)
    [record] = read_ledger(tmp_path / "log")
    assert (record["phase_id"], record["ended"], outputs(record)) == ("p1", T0 + 5, {"builder": 9})
    assert outputs(open_buckets(tmp_path / "log")[0]) == {"builder": 4}


def test_the_old_phases_last_reply_read_by_the_poll_that_finds_it_moved_on_is_its_own(tmp_path: Path) -> None:
    """A watchdog killed between the advance (the loop agents restarted into p2 at T0 + 5) and
    the close: the next watchdog's first poll reads the builder's last p1 reply (stamped T0 + 4)
    and p2's first reply together — the first is p1's, the second p2's, nothing is dropped."""
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None)
    team.say("builder", 2, T0 + 4)  # the last reply of p1, not read before the kill
    team.say("builder", 5, T0 + 7)  # p2's kickoff reply
    again = team.ledger(log)
    again.poll(T0 + 8, "p2", None, phase_started=T0 + 5)
    [record] = read_ledger(log)
    assert (record["phase_id"], record["ended"], outputs(record)) == ("p1", T0 + 5, {"builder": 9 + 2})
    assert outputs(open_buckets(log)[0]) == {"builder": 5}


def test_the_last_phase_ends_at_completion(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p2", None)
    team.say("builder", 2, T0 + 3)  # the turn that pushed the done marker
    team.say("adversary", 70, T0 + 4.5)  # after SEQUENCE-COMPLETE at T0 + 4
    ledger.poll(T0 + 5, "p2", None, phase_end=T0 + 4)
    [record] = ledger.close_phase(T0 + 6, "p2", T0 + 4, successor=False)
    assert (record["ended"], outputs(record)) == (T0 + 4, {"builder": 11})
    team.say("builder", 5, T0 + 7)
    ledger.poll(T0 + 8, None, None)
    assert ledger.open_ids() == (None, None) and open_buckets(tmp_path / "log") == []


def test_totals_for_budgets(tmp_path: Path) -> None:
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", 90, T0 + 1, inp=0, read=0, write=0)
    ledger.poll(T0 + 2, "p1", None)
    ledger.close_phase(T0 + 3, "p1")
    team.say("adversary", 10, T0 + 4, inp=0, read=0, write=0)
    ledger.poll(T0 + 5, "p2", None)
    assert ledger.totals(T0) == (10, 100)
    assert ledger.totals(T0 + 3.5) == (10, 10)  # p1 ended before this run began
    assert team.ledger(tmp_path / "log").totals(T0) == (10, 100)  # the same after a restart


# -- issue 12 finding 4: a state file that cannot be used, a kill between record and save ----------


def phase_one_and_some_of_two(team: Team, log: Path) -> Ledger:
    """p1 recorded (builder 40 + 1, with G1 builder 7), p2 open with builder 5 and adversary 6."""
    ledger = team.ledger(log)
    team.say("builder", 40, T0 + 1)
    team.commit("builder", G1, T0 + 5.3, out=1)
    team.say("builder", 7, T0 + 5.6)
    ledger.poll(T0 + 8, "p1", "G1", claim=G1)
    ledger.close_phase(T0 + 10, "p1")
    team.say("builder", 5, T0 + 11)
    team.say("adversary", 6, T0 + 12)
    ledger.poll(T0 + 13, "p2", None)
    return ledger


@pytest.mark.parametrize("garbage", [
    pytest.param(b"\x00\x17garbage{", id="not-json"),
    pytest.param(b"[]", id="a-list"),
    pytest.param(b'{"scanner": 5}', id="scanner-not-an-object"),
    pytest.param(b'{"version": 2, "scanner": {"version": 1, "files": {"/x": {"kind": "claude", "inode": 1, "offset": "far"}}}}',
                 id="offset-not-a-number"),
    pytest.param(b'{"version": 2, "scanner": {"version": 1, "files": {"/x": {"kind": "claude", "inode": 1, "offset": Infinity}}}}',
                 id="offset-infinite"),
    pytest.param(b'{"version": 2, "phase": [], "gates": [], "timeline": []}', id="phase-a-list"),
    pytest.param(b'{"version": 2, "phase": null, "gates": [], "timeline": [[1, "b", 1, 2, 3]]}', id="entry-short"),
    pytest.param(b'{"version": 7}', id="unknown-version"),
])
def test_a_corrupt_state_is_set_aside_and_rebuilt_without_double_counting(tmp_path: Path, garbage: bytes) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    phase_one_and_some_of_two(team, log)
    state = log / "state" / "tokens.json"
    state.write_bytes(garbage)
    ledger = team.ledger(log)
    assert "tokens.json" in ledger.problem and "kept as tokens.json.corrupt" in ledger.problem
    assert (log / "state" / "tokens.json.corrupt").read_bytes() == garbage and not state.exists()
    team.say("builder", 1, T0 + 14)
    ledger.poll(T0 + 15, "p2", None, since=T0, phase_started=T0 + 10)
    records = read_ledger(log)
    assert [r["phase_id"] for r in records] == ["p1:G1", "p1"]  # nothing recorded again
    [live] = open_buckets(log)
    assert outputs(live) == {"builder": 5 + 1, "adversary": 6}  # p2 only: p1's tokens are not read twice
    [p2] = ledger.close_phase(T0 + 20, "p2")
    total = sum(r["total"]["output"] for r in read_ledger(log) if r["gate"] is None)
    assert total == 40 + 1 + 7 + 5 + 1 + 6 and p2["started"] == T0 + 10


def test_a_rebuilt_ledger_keeps_the_gate_in_flight_from_the_last_gate_record(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.commit("builder", G1, T0 + 5.3, out=0)
    team.say("builder", 7, T0 + 5.6)
    ledger.poll(T0 + 6, "p1", "G1", claim=G1)
    team.commit("builder", G2, T0 + 20.2, out=0)
    team.say("adversary", 3, T0 + 20.5)
    ledger.poll(T0 + 23, "p1", "G2", claim=G2)
    assert ledger.close_gate(T0 + 23, "p1", "G1") is not None
    (log / "state" / "tokens.json").write_text("{")
    rebuilt = team.ledger(log)
    rebuilt.poll(T0 + 24, "p1", "G2", since=T0, claim=G2, phase_started=T0)
    g2 = rebuilt.live()[1]
    assert (g2["phase_id"], g2["started"], outputs(g2)) == ("p1:G2", pytest.approx(T0 + 20.35, abs=1e-3), {"adversary": 3})


def test_a_state_file_from_before_dated_entries_is_taken_over(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    team.say("builder", 5, T0 + 1)
    old = Ledger(log, ["builder", "adversary"], team.files_of)
    old.poll(T0 + 2, "p1", None)
    scanner = json.loads((log / "state" / "tokens.json").read_text())["scanner"]
    usage = {"input": 10, "output": 5, "cache_read": 100, "cache_write": 5, "total": 120}
    (log / "state" / "tokens.json").write_text(json.dumps({
        "scanner": scanner, "known": [str(team.files["builder"])],
        "phase": {"phase_id": "p1", "started": T0, "agents": {"builder": usage}},
        "gate": {"phase_id": "p1", "gate": "G1", "started": T0 + 1, "agents": {"builder": usage}}}))
    ledger = team.ledger(log)
    assert ledger.problem == "" and ledger.open_ids() == ("p1", "G1")
    team.say("builder", 2, T0 + 3)
    ledger.poll(T0 + 4, "p1", "G1")
    gate, phase = ledger.close_phase(T0 + 5, "p1")
    assert outputs(gate) == outputs(phase) == {"builder": 7}


class Killed(BaseException):
    """A kill -9 between two writes, as far as the ledger can tell."""


def kill_at_save(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Make the `after`-th next save of any ledger raise `Killed` before it writes."""
    real = Ledger.save
    calls = {"n": 0}

    def save(self: Ledger) -> None:
        calls["n"] += 1
        if calls["n"] == after:
            raise Killed
        real(self)

    monkeypatch.setattr(Ledger, "save", save)


def test_a_kill_between_a_gate_record_and_the_save_does_not_duplicate_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.commit("builder", G1, T0 + 5.3)
    team.say("builder", 7, T0 + 5.6)
    ledger.poll(T0 + 6, "p1", "G1", claim=G1)
    team.commit("builder", G2, T0 + 20.2)
    ledger.poll(T0 + 23, "p1", "G2", claim=G2)
    kill_at_save(monkeypatch, after=1)
    with pytest.raises(Killed):
        ledger.close_gate(T0 + 23, "p1", "G1")  # the record is appended, the offsets are not saved
    monkeypatch.undo()
    again = team.ledger(log)
    again.poll(T0 + 24, "p1", "G2", claim=G2)
    assert again.ready_gates() == [] and again.close_gate(T0 + 24, "p1", None) is None
    again.close_phase(T0 + 25, "p1")
    assert [r["phase_id"] for r in read_ledger(log)] == ["p1:G1", "p1:G2", "p1"]


@pytest.mark.parametrize("after", [2, 3], ids=["after-the-gate-record", "after-the-phase-record"])
def test_a_kill_inside_a_phase_close_is_finished_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.commit("builder", G1, T0 + 5.3)
    team.say("builder", 7, T0 + 5.6)
    ledger.poll(T0 + 6, "p1", "G1", claim=G1)
    team.say("builder", 2, T0 + 9)  # the last reply, read by the close's own poll
    kill_at_save(monkeypatch, after=after)  # 1: poll, 2: the close written down, 3: after the records
    with pytest.raises(Killed):
        ledger.poll(T0 + 10, "p1", "G1")
        ledger.close_phase(T0 + 10, "p1", T0 + 9.5)
    monkeypatch.undo()
    team.say("builder", 4, T0 + 11)  # p2's kickoff
    again = team.ledger(log)
    again.poll(T0 + 12, "p2", None, phase_started=T0 + 9.5)
    records = read_ledger(log)
    assert [r["phase_id"] for r in records] == ["p1:G1", "p1"]
    assert outputs(records[1]) == {"builder": 3 + 7 + 2} and records[1]["ended"] == T0 + 9.5
    assert outputs(again.live()[0]) == {"builder": 4}


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 3, T0 + 1)
    ledger.poll(T0 + 2, "p1", None)
    with (log / "token-log.jsonl").open("a") as fh:
        fh.write('{"id": "p0@1.000", "phase_id": "p0", "ga')  # a write cut short
    ledger.close_phase(T0 + 3, "p1")
    assert [r["phase_id"] for r in read_ledger(log)] == ["p1"]


def test_the_last_reply_read_by_the_closing_poll_stays_in_its_phase(tmp_path: Path) -> None:
    """The tick that advanced saw the turn end (a hook) a moment before the turn's last record was
    stamped: read once more after the restart, it is still the ended phase's."""
    team = Team(tmp_path)
    ledger = team.ledger(tmp_path / "log")
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None)
    team.say("builder", 2, T0 + 10.05)  # stamped after the advance at T0 + 10
    ledger.poll(T0 + 10, "p1", None)
    [p1] = ledger.close_phase(T0 + 10, "p1", T0 + 10, with_last_read=True)
    assert (outputs(p1), p1["ended"]) == ({"builder": 11}, pytest.approx(T0 + 10.051))
    team.say("builder", 4, T0 + 12)  # the new session's kickoff
    ledger.poll(T0 + 13, "p2", None)
    [p2] = ledger.live()
    assert (outputs(p2), p2["started"]) == ({"builder": 4}, p1["ended"])


def test_a_record_written_after_the_close_still_counts_for_its_phase(tmp_path: Path) -> None:
    """Claude Code can write a turn's last assistant line after the Stop hook the advance waited
    for — seen on 2.1.332 as the session exits, ~1 s after the advance, stamped before it. The
    close waits `settle` seconds: that line is the ended phase's, the new session's the next's."""
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None)
    ledger.poll(T0 + 10, "p1", None)
    assert ledger.close_phase(T0 + 10, "p1", T0 + 10, with_last_read=True, settle=10) == []
    assert ledger.open_ids() == (None, None) and read_ledger(log) == []
    team.say("builder", 2, T0 + 9.5)  # the old session's last reply, on disk after the close
    team.say("builder", 4, T0 + 12)  # the new session's kickoff
    ledger.poll(T0 + 13, "p2", None, phase_started=T0 + 10)
    assert read_ledger(log) == []  # not due yet
    ledger.poll(T0 + 20, "p2", None, phase_started=T0 + 10)
    [p1] = read_ledger(log)
    assert (p1["phase_id"], outputs(p1), p1["ended"]) == ("p1", {"builder": 11}, T0 + 10)
    [p2] = ledger.live()
    assert (p2["phase_id"], outputs(p2), p2["started"]) == ("p2", {"builder": 4}, T0 + 10)
    assert ledger.open_ids() == ("p2", None)


def test_a_close_waiting_for_its_records_survives_a_restart(tmp_path: Path) -> None:
    """A watchdog killed while a close waits: the next ledger keeps the close (on disk), takes the
    late line into the ended phase and appends each record once."""
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.commit("builder", G1, T0 + 5.3)
    team.say("builder", 7, T0 + 5.6)
    ledger.poll(T0 + 6, "p1", "G1", claim=G1)
    ledger.close_phase(T0 + 10, "p1", T0 + 10, settle=10)
    team.say("builder", 2, T0 + 9)
    again = team.ledger(log)  # killed and restarted before the close was due
    assert read_ledger(log) == [] and again.open_ids() == (None, None)
    assert again.close_phase(T0 + 15, "p1", T0 + 15, settle=10) == []  # a second close moves nothing
    again.poll(T0 + 21, "p2", None, phase_started=T0 + 10)
    third = team.ledger(log)
    third.poll(T0 + 22, "p2", None, phase_started=T0 + 10)
    records = read_ledger(log)
    assert [r["phase_id"] for r in records] == ["p1:G1", "p1"] and records[1]["ended"] == T0 + 10
    assert outputs(records[0]) == {"builder": 7 + 2} and outputs(records[1]) == {"builder": 3 + 7 + 2}
    assert third.open_ids() == ("p2", None)


def test_a_phase_ending_before_the_last_close_was_due_gets_its_own_record(tmp_path: Path) -> None:
    """p2 lasts less than the settle time: p1's close is recorded when p2's comes, and p2 is the
    phase that began where p1 ended (e.g. examples/builder-adversary-deferred)."""
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None, phase_started=T0)
    ledger.close_phase(T0 + 10, "p1", T0 + 10, settle=10)
    team.say("builder", 4, T0 + 12)
    ledger.poll(T0 + 14, "p2", None, phase_started=T0 + 10)  # the close is not due: p2 not open yet
    ledger.poll(T0 + 15, "p2", None, phase_started=T0 + 10)  # the executor's read before the close
    assert ledger.close_phase(T0 + 15, "p2", T0 + 15, settle=10) == []
    team.say("builder", 1, T0 + 16)
    ledger.poll(T0 + 26, "p3", None, phase_started=T0 + 15)
    records = read_ledger(log)
    assert [(r["phase_id"], outputs(r), r["started"], r["ended"]) for r in records] == [
        ("p1", {"builder": 9}, T0, T0 + 10), ("p2", {"builder": 4}, T0 + 10, T0 + 15)]
    [p3] = ledger.live()
    assert (p3["phase_id"], outputs(p3), p3["started"]) == ("p3", {"builder": 1}, T0 + 15)


def test_a_gate_claimed_while_the_last_close_settles_opens_with_the_next_phase(tmp_path: Path) -> None:
    """A fast p2 claims G2 within p1's settle time: the claim is kept and p2 opens with it."""
    team = Team(tmp_path)
    log = tmp_path / "log"
    ledger = team.ledger(log)
    team.say("builder", 9, T0 + 1)
    ledger.poll(T0 + 2, "p1", None, phase_started=T0)
    ledger.close_phase(T0 + 3, "p1", T0 + 3, settle=10)
    claim = Claim("G2", "ccccccc3333", "claim(G2): fast", T0 + 5)
    team.commit("builder", claim, T0 + 5.3, out=2)
    team.say("builder", 6, T0 + 5.6)
    ledger.open_gate(T0 + 6, "p2", "G2", claim)  # the executor, on the GateChange
    ledger.poll(T0 + 8, "p2", None, phase_started=T0 + 3)
    # p1's close is due; p2 is already done (the watchdog's gate in flight is cleared then)
    ledger.poll(T0 + 13, "p2", None, phase_started=T0 + 3)
    assert ledger.open_ids() == ("p2", "G2")
    records = [*read_ledger(log), *ledger.close_phase(T0 + 14, "p2", T0 + 14, successor=False)]
    assert [(r["phase_id"], outputs(r)) for r in records] == [
        ("p1", {"builder": 9}), ("p2:G2", {"builder": 6}), ("p2", {"builder": 2 + 6})]
