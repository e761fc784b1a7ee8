"""One tick (`flag_tick`: stalled episodes become decisions once, ended ones close) and the loop
(off by default, survives a raising tick, stops mid-wait)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, namespace
from agent_orchestrator.watchers.ledger import DecisionLedger, open_counts
from agent_orchestrator.watchers.loop import WatcherLoop, flag_tick

NS = namespace("test")
T0 = 1_700_000_000.0


def watcher(entities: list[Entity]) -> FlagWatcher:
    return FlagWatcher("test", NS, "test-context", "test-choice", lambda now: list(entities))


# -- one tick ------------------------------------------------------------------------------------


def test_exactly_at_the_window_an_entity_is_flagged_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    stale = Entity("a", "open", changed_at=T0)
    fresh = Entity("b", "open", changed_at=T0 + 10)
    report = flag_tick(watcher([stale, fresh]), ledger, host="w", now=T0 + 30, window=30)
    assert [d.entity_id for d in report.new] == ["a"]
    d = report.new[0]
    assert (d.watcher, d.context, d.choice, d.episode_start, d.decided_at) == ("w", "test-context", "test-choice", T0, T0 + 30)
    assert d.inputs["window"] == 30 and d.reasoning


def test_progress_starts_a_new_episode_with_a_new_id(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    first = flag_tick(watcher([Entity("a", "open", T0)]), ledger, host="w", now=T0 + 60, window=30).new
    # progress at T0+70 (activity fold): not stalled until T0+100, then a new episode
    moved = Entity("a", "open", T0, activity_at=T0 + 70)
    assert flag_tick(watcher([moved]), ledger, host="w", now=T0 + 99, window=30).new == []
    second = flag_tick(watcher([moved]), ledger, host="w", now=T0 + 100, window=30).new
    assert len(first) == len(second) == 1 and first[0].id != second[0].id
    assert second[0].episode_start == T0 + 70


def test_reflagging_the_same_episode_is_a_no_op(tmp_path: Path) -> None:
    w = watcher([Entity("a", "open", T0)])
    assert len(flag_tick(w, DecisionLedger(tmp_path), host="w", now=T0 + 30, window=30).new) == 1
    assert flag_tick(w, DecisionLedger(tmp_path), host="w", now=T0 + 31, window=30).new == []  # a new process's view
    assert flag_tick(w, DecisionLedger(tmp_path), host="w", now=T0 + 90, window=30).new == []
    assert len((tmp_path / "decisions.jsonl").read_text().splitlines()) == 1


def test_a_flag_closes_itself_when_its_episode_ends(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    entities = [Entity("a", "open", T0), Entity("b", "open", T0)]
    w = watcher(entities)
    flag_tick(w, ledger, host="w", now=T0 + 30, window=30)
    assert open_counts(ledger) == {"w": 2}
    entities[:] = [Entity("b", "open", T0, activity_at=T0 + 40)]  # a left the drain, b progressed
    report = flag_tick(w, ledger, host="w", now=T0 + 45, window=30)
    assert report.new == [] and len(report.resolved) == 2
    assert open_counts(ledger) == {}
    assert flag_tick(watcher([]), DecisionLedger(tmp_path), host="other", now=T0 + 50, window=30).resolved == {}


# -- the loop ------------------------------------------------------------------------------------


def test_the_loop_is_off_by_default_and_a_disabled_watcher_does_nothing() -> None:
    calls: list[float] = []
    loop = WatcherLoop(calls.append, 0)
    loop.run(max_ticks=3)
    assert calls == [] and loop.skipped == 3
    enabled = iter([False, True, False])
    loop = WatcherLoop(calls.append, 0, enabled=lambda: next(enabled), clock=lambda: 7.0)
    loop.run(max_ticks=3)
    assert calls == [7.0]


def test_a_raising_tick_is_logged_and_the_next_one_runs() -> None:
    seen: list[str] = []
    count = {"n": 0}

    def tick(now: float) -> None:
        count["n"] += 1
        if count["n"] == 1:
            raise RuntimeError("git went away")

    loop = WatcherLoop(tick, 0, enabled=lambda: True, log=seen.append)
    loop.run(max_ticks=3)
    assert count["n"] == 3 and loop.failures == 1
    assert seen == ["tick failed: RuntimeError: git went away"]


def test_a_stop_request_ends_the_loop_mid_wait() -> None:
    ticked = threading.Event()
    loop = WatcherLoop(lambda now: ticked.set(), 3600, enabled=lambda: True)
    thread = threading.Thread(target=loop.run)
    began = time.monotonic()
    thread.start()
    assert ticked.wait(5)
    loop.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 5
    assert loop.ticks == 1
