"""The pure decision model: staleness boundary, episode ids, ended episodes, `declare`, and the
rule that context/choice tokens are unique across every watcher."""

from __future__ import annotations

import uuid

import pytest

from agent_orchestrator.watchers import user
from agent_orchestrator.watchers.builtins import claims, held, inboxes, phases
from agent_orchestrator.watchers.decisions import (
    Entity,
    Flag,
    FlagWatcher,
    Vocabulary,
    decide,
    decision_id,
    declare,
    ended_episodes,
    is_stalled,
    namespace,
)
from agent_orchestrator.watchers.issue_runs import decide as issue_runs_decide
from agent_orchestrator.watchers.issue_runs import watcher as issue_runs

NS = namespace("test")
T0 = 1_700_000_000.0


def watcher(entities: list[Entity]) -> FlagWatcher:
    return FlagWatcher("test", NS, "test-context", "test-choice", lambda now: list(entities))


# -- staleness and episodes ------------------------------------------------------------------------


@pytest.mark.parametrize("age,flagged", [(29.999, False), (30.0, True), (30.001, True), (0.0, False)])
def test_the_window_boundary_is_inclusive(age: float, flagged: bool) -> None:
    assert is_stalled(T0, T0 + age, 30.0) is flagged


def test_the_decision_id_is_deterministic_per_episode() -> None:
    assert decision_id(NS, "a", T0) == decision_id(NS, "a", int(T0)) == decision_id(NS, "a", str(int(T0)))
    assert decision_id(NS, "a", T0) != decision_id(NS, "b", T0)
    assert decision_id(NS, "a", T0) != decision_id(namespace("other"), "a", T0)
    assert decision_id(NS, "a", T0) == str(uuid.uuid5(NS, f"decision:a:{int(T0)}"))


def test_ended_episodes_is_pure() -> None:
    (d,) = decide(watcher([]), [Entity("a", "open", T0)], host="w", now=T0 + 30, window=30)
    assert ended_episodes([Flag(d)], [Entity("a", "open", T0)]) == {}
    assert list(ended_episodes([Flag(d)], [])) == [d.id]
    assert ended_episodes([Flag(d, {"by": "x"})], []) == {}


# -- declarations and vocabularies -----------------------------------------------------------------


def test_declare_derives_the_namespace_from_the_kind_and_builds_the_watcher() -> None:
    declared = declare("claims", "claim-unreviewed", "flag-claim")
    assert declared.namespace == namespace("claims")
    assert declared.vocabulary == Vocabulary(("claim-unreviewed",), ("flag-claim",))
    w = declared.watcher(lambda now: [])
    assert (w.kind, w.namespace, w.context, w.choice) == ("claims", namespace("claims"), "claim-unreviewed", "flag-claim")
    with pytest.raises(AttributeError):
        declared.kind = "other"  # type: ignore[misc]  # frozen


def test_context_and_choice_tokens_are_unique_across_all_watchers() -> None:
    vocabularies = {m.DECLARATION.kind: m.DECLARATION.vocabulary for m in (claims, phases, inboxes, held)}
    vocabularies[issue_runs.KIND] = issue_runs_decide.VOCABULARY
    vocabularies[user.KIND] = user.VOCABULARY
    tokens: dict[str, str] = {}
    for kind, vocab in vocabularies.items():
        words = [*vocab.contexts, *vocab.choices]
        assert len(set(words)) == len(words), f"{kind} repeats a token"
        for word in words:
            assert word not in tokens, f"{word!r} is used by {tokens.get(word)} and {kind}"
            tokens[word] = kind
    assert len(vocabularies) == 6
    assert len(tokens) == sum(len(v.contexts) + len(v.choices) for v in vocabularies.values())
    namespaces = [m.DECLARATION.namespace for m in (claims, phases, inboxes, held)] + [issue_runs.NAMESPACE]
    assert len(set(namespaces)) == len(namespaces)
