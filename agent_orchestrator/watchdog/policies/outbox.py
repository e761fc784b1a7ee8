"""The outbox (every tick): messages land at turn boundaries, one at a time, exactly once.

Every message the watchdog has for an agent — a claim or review ping, a DONE-nudge, a wake, a
usage-limit probe, an operator's `agents send`, a watcher's flag — is first put in the agent's
outbox (`enqueue`), a durable intent saved before anything is typed. Then, per agent:

- one message at a time: the oldest waits until the agent's turn is over (its verdict is not
  busy/retrying: from the hooks' Stop/StopFailure, else the screen), is handed over, and must be
  confirmed (the CLI's UserPromptSubmit carrying it, else the screen) before the next goes;
- messages that pile up during one turn merge: two claim pings become one message listing both
  commits; a second nudge or wake replaces the first;
- an agent that stays busy past the kind's bounded wait (`[watchdog.message_wait]`) gets the
  message through its CLI's own queue (`queue_key`: Codex's Tab queues instead of Enter
  steering; Claude queues what is submitted while busy) — backends without one keep waiting;
- text a person typed into the input box is never pasted over: the message waits, and says so;
- a message found "sending" (a watchdog died mid-delivery) is settled by evidence — the CLI's
  UserPromptSubmit for it, or its text still in the input box — never re-sent blindly; with
  the agent's hooks live, an empty box means waiting ACCEPT_GRACE seconds for that event first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent_orchestrator.agents import hooks
from agent_orchestrator.agents.messages import sanitize
from agent_orchestrator.config.schema import Config
from agent_orchestrator.truth.hook_events import prompt_digest
from agent_orchestrator.watchdog.model import Action, AgentView, Deliver, Note, Send, Step, Tick
from agent_orchestrator.watchdog.policies.handoff import commit_ids, render
from agent_orchestrator.watchdog.state import AgentState, Message, WatchdogState

TYPED = "unsubmitted text in the input box"  # why a message waits while a person is typing (status shows it)
STARTING = "the agent is starting"
START_SETTLE = 3.0  # seconds after a (re)start before a screen shows the new session (the CLI draws itself, takes its kickoff)
START_WAIT = 60.0  # seconds after a (re)start a message waits at most to see the new session
MAX_ATTEMPTS = 10  # failed hand-overs before a message is given up loudly
RETRY_CAP = 300.0  # seconds between two attempts at most
IN_CLI_LIMIT = 900.0  # seconds a message handed to the CLI's queue may wait for its UserPromptSubmit
# seconds a message found "sending" by a restarted watchdog, its text gone from the box, waits
# for the CLI's UserPromptSubmit before it is handed over again (agents with live hooks): a
# watchdog SIGKILLed right after the submit key is back in ~0.5 s, and a CLI under load runs its
# hook later than that — re-sent at once, the message reached the agent twice.
ACCEPT_GRACE = 15.0
_BUSY = frozenset({"busy", "retrying"})
_BLOCKED = frozenset({"needs-input", "dialog", "unsubmitted", "exited"})
# Messages that only make sense to the session they were meant for (a new one gets its kickoff).
SESSION_BOUND = frozenset({"nudge", "probe", "wake"})
# Kinds whose newer message stands for a waiting older one of the same topic (a second nudge or
# wake says it again; pings merge their items). Anything else — a person's `send`, a watcher's
# flag, a fix request — is delivered as written: only an identical text folds into it.
SUPERSEDES = frozenset({"nudge", "probe", "wake", "ping", "reannounce"})


def message_wait(config: Config, kind: str) -> float:
    """Seconds a message of `kind` waits for a busy agent before the CLI's own queue is used."""
    waits = config.watchdog.message_wait
    return float(waits.get(kind, waits.get("default", 600.0)))


def enqueue(state: WatchdogState, sends: Sequence[Send], now: float) -> WatchdogState:
    """The state with `sends` put in their agents' outboxes (merged with waiting messages)."""
    for send in sends:
        st = state.agent(send.agent)
        text = sanitize(send.text)
        topic = send.topic or send.kind
        box = list(st.outbox)
        for i, old in enumerate(box):
            if old.state != "queued" or old.topic != topic or old.kind != send.kind:
                continue
            if not send.items and send.kind not in SUPERSEDES and old.text != text:
                continue
            items = tuple(dict.fromkeys((*old.items, *send.items)))
            merged = render(send.kind, topic, items) if send.items else None
            new_text = sanitize(merged) if merged is not None else text
            box[i] = replace(old, text=new_text, digest=prompt_digest(new_text), items=items,
                             reason=send.reason if old.reason == send.reason else f"{old.reason}; {send.reason}")
            break
        else:
            ident = f"{send.agent}-{send.kind}-{now:.3f}-{len(box)}"
            box.append(Message(ident, send.kind, text, send.reason, now, prompt_digest(text), topic, send.items))
        state = state.with_agent(send.agent, replace(st, outbox=tuple(box)))
    return state


def _seen(st: AgentState, message: Message) -> bool:
    """The CLI accepted `message` (a UserPromptSubmit with its digest after it was created)."""
    return any(p.digest == message.digest and p.ts >= message.created - 1.0 for p in st.hooks.prompts)


def _typed_by_a_person(view: AgentView, st: AgentState) -> bool:
    """Text sits in the input box that none of our messages put there."""
    typed = " ".join((view.facts.input if view.facts is not None else "").split())
    if not typed or view.truth.state != "unsubmitted":
        return False
    return not any(" ".join(m.text.split()).startswith(typed[:40]) for m in st.outbox)


def _starting(st: AgentState, view: AgentView, now: float) -> bool:
    """The agent was (re)started less than START_WAIT seconds ago and nothing has shown the new
    session yet: its hooks have not seen a turn end (a prompt, then idle again), and no screen
    was captured START_SETTLE seconds or more after the start. A message pasted into a CLI still
    drawing itself is lost: seen in the chaos suite, a re-announcement "delivered" 0.1 s after a
    heal (confirmed by the screen: the box was empty) never reached the adversary; the run hung."""
    if st.last_start is None or now - st.last_start >= START_WAIT:
        return False
    if st.hooks.prompts and st.hooks.turn == "idle":
        return False
    facts = view.facts
    return facts is None or facts.captured_at < st.last_start + START_SETTLE


def _accept_may_come(view: AgentView, st: AgentState, head: Message, now: float) -> bool:
    """A message found "sending", its text gone from the box, may still be accepted: the agent's
    hooks are live and less than ACCEPT_GRACE seconds passed since it was handed over."""
    live = hooks.wired(view.backend.screen, view.backend.hooks) and st.hooks.last_event_at is not None
    return live and now - (head.sent_at if head.sent_at is not None else now) < ACCEPT_GRACE


def _hold(state: WatchdogState, name: str, st: AgentState, head: Message, why: str, actions: list[Action]) -> WatchdogState:
    if head.held == why:
        return state
    if why:
        actions.append(Note(name, "message-held", f"{head.kind} waits: {why}", {"message": head.id}))
    return state.with_agent(name, replace(st, outbox=(replace(head, held=why), *st.outbox[1:])))


def outbox(tick: Tick) -> Step:
    """Deliver actions (one per agent at most) and the outbox bookkeeping."""
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        st = state.agent(name)
        if not st.outbox:
            continue
        head = st.outbox[0]
        if head.state in ("sending", "in-cli") and _seen(st, head):
            state = state.with_agent(name, replace(st, outbox=st.outbox[1:]))
            how = "found accepted after a watchdog restart" if head.state == "sending" else "accepted from the CLI's queue"
            actions.append(Note(name, head.kind, f"{head.reason} ({how})", {"confirmed": "hook", "message": head.id,
                                                                            **({"commits": commit_ids(head.items)} if head.items else {})}))
            continue
        if head.state == "in-cli":
            if tick.now - (head.sent_at or tick.now) > IN_CLI_LIMIT:
                state = state.with_agent(name, replace(st, outbox=st.outbox[1:]))
                actions.append(Note(name, "message-unconfirmed", f"{head.kind} was handed to the CLI's queue "
                                    f"{IN_CLI_LIMIT:.0f}s ago and never accepted; giving it up", {"message": head.id}))
            continue
        if not view.alive or st.paused or st.needs_human:
            continue
        if head.state == "sending":
            # Found mid-delivery by a restarted watchdog: submit what is still in the box, else
            # (once its UserPromptSubmit had time to come) hand it over again.
            still_there = view.facts is not None and view.facts.input and " ".join(head.text.split()).startswith(
                " ".join(view.facts.input.split())[:40])
            if not still_there and _accept_may_come(view, st, head, tick.now):
                continue
            actions.append(Deliver(name, head.id, "finish" if still_there else "submit", tick.now - head.created))
            continue
        if head.attempts >= MAX_ATTEMPTS:
            state = state.with_agent(name, replace(st, outbox=st.outbox[1:]))
            actions.append(Note(name, "delivery-abandoned", f"{head.kind} not delivered after {head.attempts} attempts: {head.last_error}",
                                {"text": head.text[:200]}))
            continue
        if tick.now < head.next_try:
            continue
        if st.limit is not None and head.kind != "probe":
            state = _hold(state, name, st, head, "the agent waits out a usage limit", actions)
            continue
        if _typed_by_a_person(view, st):
            state = _hold(state, name, st, head, TYPED, actions)
            continue
        if _starting(st, view, tick.now):
            state = _hold(state, name, st, head, STARTING, actions)
            continue
        verdict = view.truth.state if view.truth.state != "unknown" else ("busy" if view.busy else "idle")
        waited = tick.now - head.created
        if verdict in _BUSY or verdict in _BLOCKED:
            queue_key = view.backend.queue_key
            if verdict in _BUSY and queue_key and waited >= message_wait(tick.config, head.kind):
                state = state.with_agent(name, replace(st, outbox=(replace(head, state="sending", sent_at=tick.now, held=""), *st.outbox[1:])))
                actions.append(Deliver(name, head.id, "queue", waited))
                continue
            state = _hold(state, name, st, head, f"the agent is {verdict}", actions)
            continue
        state = state.with_agent(name, replace(st, outbox=(replace(head, state="sending", sent_at=tick.now, held=""), *st.outbox[1:])))
        actions.append(Deliver(name, head.id, "submit", waited))
    return Step(state, tuple(actions))


def settle_delivery(state: WatchdogState, name: str, message_id: str, *, ok: bool, via: str, confirmed: bool, detail: str,
                    now: float, retry_interval: float) -> WatchdogState:
    """The outbox after the executor handed `message_id` over (`ok`), and whether the CLI already
    accepted it (`confirmed`). Not delivered: back in the queue with a growing retry delay."""
    st = state.agent(name)
    box = list(st.outbox)
    index = next((i for i, m in enumerate(box) if m.id == message_id), None)
    if index is None:
        return state
    message = box[index]
    if ok and (confirmed or via != "queue"):
        del box[index]
    elif ok:
        box[index] = replace(message, state="in-cli", sent_at=now)
    else:
        attempts = message.attempts + 1
        box[index] = replace(message, state="queued", attempts=attempts, last_error=detail,
                             next_try=now + min(retry_interval * attempts, RETRY_CAP))
    return state.with_agent(name, replace(st, outbox=tuple(box)))


def after_start(st: AgentState) -> AgentState:
    """An agent's outbox once it is (re)started: messages meant for the old session (a nudge, a
    probe, a wake) go, and so does one the old session already accepted — found "sending" or
    "in-cli" with the CLI's UserPromptSubmit for it in `st.hooks` (a watchdog killed between the
    submit and its checkpoint, then a phase advance: re-queued, it reached the new session a
    second time); the others wait for the new one, from the start of the queue again. `st` is
    the state before the start forgets the old session's hook events."""
    kept = tuple(replace(m, state="queued", held="") for m in st.outbox
                 if m.kind not in SESSION_BOUND and not (m.state in ("sending", "in-cli") and _seen(st, m)))
    return replace(st, outbox=kept)
