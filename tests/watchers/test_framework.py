"""The watcher scaffold: staleness boundary, episode ids, the idempotent ledger (also across
processes), the loop (off by default, survives a raising tick, stops mid-wait) and the rule that
context/choice tokens are unique across every watcher."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent_orchestrator.watchers import user
from agent_orchestrator.watchers.builtins import claims, held, inboxes, phases
from agent_orchestrator.watchers.issue_runs import watcher as issue_runs
from agent_orchestrator.watchers.framework import (
    DecisionLedger,
    Entity,
    FlagWatcher,
    WatcherLoop,
    decide,
    decision_id,
    ended_episodes,
    flag_tick,
    is_stalled,
    namespace,
    open_counts,
)

ROOT = Path(__file__).resolve().parents[2]
NS = namespace("test")
T0 = 1_700_000_000.0


def watcher(entities: list[Entity]) -> FlagWatcher:
    return FlagWatcher("test", NS, "test-context", "test-choice", lambda now: list(entities))


# -- staleness and episodes ------------------------------------------------------------------------


@pytest.mark.parametrize("age,flagged", [(29.999, False), (30.0, True), (30.001, True), (0.0, False)])
def test_the_window_boundary_is_inclusive(age: float, flagged: bool) -> None:
    assert is_stalled(T0, T0 + age, 30.0) is flagged


def test_exactly_at_the_window_an_entity_is_flagged_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    ledger = DecisionLedger(tmp_path)
    stale = Entity("a", "open", changed_at=T0)
    fresh = Entity("b", "open", changed_at=T0 + 10)
    report = flag_tick(watcher([stale, fresh]), ledger, host="w", now=T0 + 30, window=30)
    assert [d.entity_id for d in report.new] == ["a"]
    d = report.new[0]
    assert (d.watcher, d.context, d.choice, d.episode_start, d.decided_at) == ("w", "test-context", "test-choice", T0, T0 + 30)
    assert d.inputs["window"] == 30 and d.reasoning


def test_the_decision_id_is_deterministic_per_episode() -> None:
    assert decision_id(NS, "a", T0) == decision_id(NS, "a", int(T0)) == decision_id(NS, "a", str(int(T0)))
    assert decision_id(NS, "a", T0) != decision_id(NS, "b", T0)
    assert decision_id(NS, "a", T0) != decision_id(namespace("other"), "a", T0)
    import uuid

    assert decision_id(NS, "a", T0) == str(uuid.uuid5(NS, f"decision:a:{int(T0)}"))


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


APPENDER = """
import sys, time
from pathlib import Path
from agent_orchestrator.watchers.framework import DecisionLedger, Entity, FlagWatcher, decide, namespace
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
    (d,) = flag_tick(watcher([Entity("a", "open", T0)]), ledger, host="w", now=T0 + 30, window=30).new
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


def test_ended_episodes_is_pure() -> None:
    (d,) = decide(watcher([]), [Entity("a", "open", T0)], host="w", now=T0 + 30, window=30)
    from agent_orchestrator.watchers.framework import Flag

    assert ended_episodes([Flag(d)], [Entity("a", "open", T0)]) == {}
    assert list(ended_episodes([Flag(d)], [])) == [d.id]
    assert ended_episodes([Flag(d, {"by": "x"})], []) == {}


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


# -- vocabularies --------------------------------------------------------------------------------


def test_context_and_choice_tokens_are_unique_across_all_watchers() -> None:
    vocabularies = {m.KIND: m.VOCABULARY for m in (claims, phases, inboxes, held, issue_runs, user)}
    tokens: dict[str, str] = {}
    for kind, vocab in vocabularies.items():
        words = [*vocab.contexts, *vocab.choices]
        assert len(set(words)) == len(words), f"{kind} repeats a token"
        for word in words:
            assert word not in tokens, f"{word!r} is used by {tokens.get(word)} and {kind}"
            tokens[word] = kind
    assert len(tokens) == sum(len(v.contexts) + len(v.choices) for v in vocabularies.values())
    namespaces = [m.NAMESPACE for m in (claims, phases, inboxes, held, issue_runs)]
    assert len(set(namespaces)) == len(namespaces)


def test_builtins_write_only_their_own_vocabulary(tmp_path: Path) -> None:
    from agent_orchestrator.watchers.framework import WatcherContext

    ctx = WatcherContext(config=None, agent=None, log_dir=tmp_path)
    for module in (claims, phases, inboxes, held):
        w = module.make(ctx)
        assert (w.context, w.choice) == (module.CONTEXT, module.CHOICE) and w.namespace == module.NAMESPACE


# -- user watchers -------------------------------------------------------------------------------


def test_command_lines_become_entities_and_bad_lines_are_warnings() -> None:
    text = textwrap.dedent("""\
        {"id": "T-1", "state": "open", "changed_at": 1700000000, "owner": "ana"}
        {"id": 2, "state": "review", "changed_at": "2023-11-14T22:13:20Z", "activity_at": "2023-11-14T22:20:00+00:00"}
        not json
        {"id": "T-3", "state": "open"}
        {"id": "", "state": "open", "changed_at": 1}

        {"id": "T-4", "state": "open", "changed_at": "2023-11-14 22:13:20"}
    """)
    entities, problems = user.parse_lines(text)
    assert [e.id for e in entities] == ["T-1", "2", "T-4"]
    assert entities[0].inputs == {"owner": "ana"} and entities[0].changed_at == T0
    assert entities[1].changed_at == T0 and entities[1].activity_at == T0 + 400
    assert entities[2].changed_at == T0  # a time without an offset is UTC
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5"]


def test_an_entry_point_factory_may_return_a_drain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from agent_orchestrator.watchers.framework import WatcherContext

    (tmp_path / "mywatch.py").write_text(textwrap.dedent("""\
        def factory(ctx):
            def drain(now):
                return [{"id": "x", "state": "stuck", "changed_at": now - 100}, {"id": "y"}]
            return drain
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = WatcherContext(SimpleNamespace(root=tmp_path), SimpleNamespace(name="mine", watcher="mywatch:factory"), tmp_path)
    w = user.entry_point_watcher(ctx)
    report = flag_tick(w, DecisionLedger(tmp_path), host="mine", now=T0, window=60)
    assert [(d.entity_id, d.context, d.choice) for d in report.new] == [("x", user.CONTEXT, user.CHOICE)]
    assert len(report.notes) == 1 and "state" in report.notes[0]
    with pytest.raises(ImportError, match="nosuch"):
        user.entry_point_watcher(WatcherContext(ctx.config, SimpleNamespace(name="m", watcher="nosuch:f"), tmp_path))
