"""The outbox: messages wait for the turn to end, merge, go one at a time, and are settled by
evidence — as tables of (outbox, what the agent is doing, now) → (deliveries, outbox after)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.truth.hook_events import prompt_digest
from agent_orchestrator.truth.model import HookState, PromptSeen, Truth
from agent_orchestrator.watchdog.model import Deliver, Note, Send
from agent_orchestrator.watchdog.policies.handoff import ping_text
from agent_orchestrator.watchdog.policies.outbox import MAX_ATTEMPTS, after_start, enqueue, outbox, settle_delivery
from agent_orchestrator.watchdog.state import AgentState, LimitWindow, Message, WatchdogState
from tests.support.policies import NOW, facts, kinds, state_of, tick


def msg(text: str = "Watchdog: hello", kind: str = "ping", *, state: str = "queued", created: float = NOW - 10, **kw: Any) -> Message:
    return Message(f"m-{text[:6]}-{state}", kind, text, "r", created, prompt_digest(text), kw.pop("topic", kind), state=state, **kw)


BUSY = Truth("busy", "hook")
IDLE = Truth("idle", "hook")
SCREEN_BUSY = Truth("busy", "screen")
HELLO = msg()


def sup(*messages: Message, **kw: Any) -> WatchdogState:
    return state_of(sup=AgentState(idle_since=NOW - 10, outbox=tuple(messages), **kw))


# (sup's outbox and state, sup's verdict, kinds of the actions, sup's outbox after)
DELIVERIES: list[Any] = [
    pytest.param(sup(HELLO), IDLE, [("Deliver", "sup", "submit")], (replace(HELLO, state="sending", sent_at=NOW),), id="idle-gets-it-now"),
    pytest.param(sup(HELLO), BUSY, [("Note", "sup", "message-held")], (replace(HELLO, held="the agent is busy"),), id="busy-waits"),
    pytest.param(sup(replace(HELLO, held="the agent is busy")), BUSY, [], (replace(HELLO, held="the agent is busy"),),
                 id="held-once-said"),
    pytest.param(sup(HELLO), Truth("needs-input", "hook"), [("Note", "sup", "message-held")], (replace(HELLO, held="the agent is needs-input"),),
                 id="a-person-must-answer-first"),
    pytest.param(sup(HELLO, msg("second one")), IDLE, [("Deliver", "sup", "submit")],
                 (replace(HELLO, state="sending", sent_at=NOW), msg("second one")), id="one-at-a-time"),
    pytest.param(sup(replace(HELLO, next_try=NOW + 5)), IDLE, [], (replace(HELLO, next_try=NOW + 5),), id="retry-not-due"),
    pytest.param(sup(replace(HELLO, attempts=MAX_ATTEMPTS)), IDLE, [("Note", "sup", "delivery-abandoned")], (), id="given-up-loudly"),
    pytest.param(sup(HELLO, limit=LimitWindow("b", None, NOW + 60, NOW)), IDLE, [("Note", "sup", "message-held")],
                 (replace(HELLO, held="the agent waits out a usage limit"),), id="limited-waits"),
    pytest.param(sup(msg("The usage limit should have reset.", "probe"), limit=LimitWindow("b", None, NOW - 1, NOW - 60)), IDLE,
                 [("Deliver", "sup", "submit")], (replace(msg("The usage limit should have reset.", "probe"), state="sending", sent_at=NOW),),
                 id="the-probe-is-what-a-limit-waits-for"),
    pytest.param(sup(HELLO, paused=True), IDLE, [], (HELLO,), id="paused-keeps-it"),
]


@pytest.mark.parametrize("state,truth,expected,after", DELIVERIES)
def test_delivery(config: Config, state: WatchdogState, truth: Truth, expected: list[tuple[str, str, str]],
                  after: tuple[Message, ...]) -> None:
    step = outbox(tick(config, state, truth={"sup": truth}))
    assert [k for k in kinds(step.actions) if k[1] == "sup"] == expected
    assert step.state.agent("sup").outbox == after


def test_a_busy_agent_gets_it_through_its_clis_queue_after_the_bounded_wait(config: Config) -> None:
    config.watchdog.message_wait = {"ping": 300.0}
    config.backends["demo"].queue_key = "Tab"
    early = outbox(tick(config, sup(msg(created=NOW - 299)), truth={"sup": BUSY}))
    assert kinds(early.actions) == [("Note", "sup", "message-held")]
    late = outbox(tick(config, sup(msg(created=NOW - 300)), truth={"sup": BUSY}))
    assert late.actions == (Deliver("sup", msg().id, "queue", 300.0),)
    assert late.state.agent("sup").outbox[0].state == "sending"
    config.backends["demo"].queue_key = ""
    no_key = outbox(tick(config, sup(msg(created=NOW - 9999)), truth={"sup": BUSY}))
    assert kinds(no_key.actions) == [("Note", "sup", "message-held")]  # without a queue key: never interrupt


def test_text_a_person_typed_is_never_pasted_over(config: Config) -> None:
    typing = facts(state="unsubmitted_input", input="half a sentence")
    step = outbox(tick(config, sup(HELLO), screen={"sup": typing}, truth={"sup": Truth("unsubmitted", "screen")}))
    assert kinds(step.actions) == [("Note", "sup", "message-held")]
    assert step.state.agent("sup").outbox[0].held == "unsubmitted text in the input box"


@pytest.mark.parametrize("prompts,via", [
    pytest.param((PromptSeen(HELLO.digest, "p-1", NOW - 5),), None, id="accepted-before-the-crash-is-done"),
    pytest.param((), "submit", id="never-accepted-goes-again"),
])
def test_a_message_found_mid_delivery_is_settled_by_evidence(config: Config, prompts: tuple[PromptSeen, ...], via: str | None) -> None:
    state = sup(replace(HELLO, state="sending", sent_at=NOW - 8), hooks=HookState(prompts=prompts, last_event_at=NOW - 5))
    step = outbox(tick(config, state, truth={"sup": IDLE}))
    if via is None:
        assert kinds(step.actions) == [("Note", "sup", "ping")] and step.actions[0].details["confirmed"] == "hook"  # type: ignore[union-attr]
        assert step.state.agent("sup").outbox == ()
    else:
        assert step.actions == (Deliver("sup", HELLO.id, "submit", 10.0),)


def test_text_still_in_the_box_after_a_crash_is_only_submitted(config: Config) -> None:
    state = sup(replace(HELLO, state="sending", sent_at=NOW - 8))
    step = outbox(tick(config, state, screen={"sup": facts(state="unsubmitted_input", input="Watchdog: hello")},
                       truth={"sup": Truth("unsubmitted", "screen")}))
    assert step.actions == (Deliver("sup", HELLO.id, "finish", 10.0),)


def test_a_message_in_the_clis_queue_is_done_when_the_cli_accepts_it(config: Config) -> None:
    waiting = sup(replace(HELLO, state="in-cli", sent_at=NOW - 30))
    assert outbox(tick(config, waiting, truth={"sup": BUSY})).actions == ()
    accepted = replace(waiting, agents={"sup": replace(waiting.agent("sup"), hooks=HookState(prompts=(PromptSeen(HELLO.digest, "", NOW),)))})
    step = outbox(tick(config, accepted, truth={"sup": BUSY}))
    assert kinds(step.actions) == [("Note", "sup", "ping")] and step.state.agent("sup").outbox == ()
    stale = outbox(tick(config, sup(replace(HELLO, state="in-cli", sent_at=NOW - 901)), truth={"sup": BUSY}))
    assert kinds(stale.actions) == [("Note", "sup", "message-unconfirmed")] and stale.state.agent("sup").outbox == ()


def test_pings_that_pile_up_merge_into_one_message_listing_each_commit_once() -> None:
    one = Send("sup", ping_text("claim", ["aaaaaaaa claim(G1)"]), "ping", "claim: G1", topic="claim", items=("aaaaaaaa claim(G1)",))
    two = Send("sup", ping_text("claim", ["bbbbbbbb claim(G2)"]), "ping", "claim: G2", topic="claim", items=("bbbbbbbb claim(G2)",))
    again = Send("sup", ping_text("claim", ["aaaaaaaa claim(G1)"]), "ping", "claim: G1", topic="claim", items=("aaaaaaaa claim(G1)",))
    state = enqueue(enqueue(enqueue(WatchdogState(), [one], NOW), [two], NOW + 1), [again], NOW + 2)
    (merged,) = state.agent("sup").outbox
    assert merged.items == ("aaaaaaaa claim(G1)", "bbbbbbbb claim(G2)")
    assert merged.text == ping_text("claim", merged.items) and merged.digest == prompt_digest(merged.text)
    assert merged.created == NOW  # the wait counts from the first one
    review = Send("sup", ping_text("review", ["cccccccc review(G1): PASS"]), "ping", "review", topic="review", items=("cccccccc review(G1): PASS",))
    assert [m.topic for m in enqueue(state, [review], NOW + 3).agent("sup").outbox] == ["claim", "review"]
    nudges = enqueue(enqueue(WatchdogState(), [Send("sup", "first nudge", "nudge", "stalled")], NOW), [Send("sup", "newer nudge", "nudge", "stalled")], NOW)
    assert [m.text for m in nudges.agent("sup").outbox] == ["newer nudge"]
    sending = replace(state, agents={"sup": replace(state.agent("sup"), outbox=(replace(merged, state="sending"),))})
    assert len(enqueue(sending, [two], NOW + 5).agent("sup").outbox) == 2  # a message being handed over does not change


@pytest.mark.parametrize("kind", ["send", "flag", "fix"])
def test_messages_a_person_or_a_watcher_wrote_are_each_delivered(kind: str) -> None:
    """Two `agents send` (or two watchers' flags) while the agent is busy: the second must not
    replace the first (it did: they shared a topic, and a message without items was swapped)."""
    first, second = Send("sup", "please rebase", kind, "a"), Send("sup", "and run the tests", kind, "b")  # type: ignore[arg-type]
    state = enqueue(enqueue(WatchdogState(), [first], NOW), [second], NOW + 1)
    assert [m.text for m in state.agent("sup").outbox] == ["please rebase", "and run the tests"]
    assert len({m.id for m in state.agent("sup").outbox}) == 2
    again = enqueue(state, [Send("sup", "please rebase", kind, "a")], NOW + 2)  # type: ignore[arg-type]
    assert [m.text for m in again.agent("sup").outbox] == ["please rebase", "and run the tests"]  # the same text twice: once


def test_control_characters_from_git_never_reach_the_pane() -> None:
    hostile = Send("sup", "Watchdog: claim(G1) \x1b[201~\x15\x03 done", "ping", "claim")
    (m,) = enqueue(WatchdogState(), [hostile], NOW).agent("sup").outbox
    assert "\x1b" not in m.text and "\x15" not in m.text and "^[[201~^U^C" in m.text


def test_settling_a_delivery() -> None:
    state = sup(replace(HELLO, state="sending", sent_at=NOW))
    assert settle_delivery(state, "sup", HELLO.id, ok=True, via="submit", confirmed=True, detail="", now=NOW, retry_interval=5).agent("sup").outbox == ()
    queued = settle_delivery(state, "sup", HELLO.id, ok=True, via="queue", confirmed=False, detail="", now=NOW, retry_interval=5)
    assert queued.agent("sup").outbox[0].state == "in-cli"
    failed = settle_delivery(state, "sup", HELLO.id, ok=False, via="submit", confirmed=False, detail="no UserPromptSubmit", now=NOW,
                             retry_interval=5).agent("sup").outbox[0]
    assert (failed.state, failed.attempts, failed.next_try, failed.last_error) == ("queued", 1, NOW + 5, "no UserPromptSubmit")


def test_a_restart_keeps_what_the_new_session_needs_and_drops_the_rest() -> None:
    st = AgentState(outbox=(msg("ping text", "ping", state="sending"), msg("nudge text", "nudge"), msg("wake text", "wake"),
                            msg("asked by hand", "send")))
    kept = after_start(st).outbox
    assert [(m.kind, m.state) for m in kept] == [("ping", "queued"), ("send", "queued")]


def test_notes_name_their_message(config: Config) -> None:
    step = outbox(tick(config, sup(HELLO), truth={"sup": BUSY}))
    (note,) = step.actions
    assert isinstance(note, Note) and note.details == {"message": HELLO.id} and note.reason == "ping waits: the agent is busy"
