"""Start intents: every (re)start is on disk before it goes out, and is checked, not repeated.

`record` (after the policies) turns each Start of this tick into an `Intent` saved with the
decided state before the executor acts; settling its outcome removes it. So an intent still in
the state at the next tick means a watchdog died between deciding and finishing a start (the
loop agents of a phase advance stranded in their old sessions was the case seen). `reconcile`
(first thing in a tick) checks the world: the session's launcher pid moved on from the one
recorded with the intent — the start happened, it is confirmed; otherwise it is issued again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, AgentObservation, Note, Start, Step, Tick
from agent_orchestrator.watchdog.state import Intent, WatchdogState


def reconcile(tick: Tick) -> Step:
    """Confirm or re-issue the intents a previous watchdog left open."""
    state = tick.state
    if not state.intents:
        return Step(state)
    actions: list[Action] = []
    keep: list[Intent] = []
    for intent in state.intents:
        if intent.kind == "on-complete":
            continue  # the phase machine's own on_complete states settle that one (policies/phases.py)
        view = tick.views.get(intent.agent)
        if view is None:
            if tick.config.service(intent.agent) is None and tick.config.agent(intent.agent) is None:
                continue  # no longer in the config
            keep.append(intent)  # a service, or an agent not observed: heal decides again
            continue
        if view.launch_pid is not None and view.launch_pid != intent.prev_pid:
            actions.append(Note(intent.agent, "start-confirmed", f"{intent.kind}: {intent.reason} (it went out before the watchdog restarted)"))
            continue
        keep.append(intent)
        actions.append(Start(intent.agent, f"{intent.reason} (again: the watchdog restarted before it was done)", prompt=intent.prompt,
                             resume=intent.resume, kind=intent.kind, intent=intent.id))  # type: ignore[arg-type]
    return Step(replace(state, intents=tuple(keep)), tuple(actions))


def record(state: WatchdogState, actions: Sequence[Action], observed: Mapping[str, AgentObservation], now: float) -> tuple[WatchdogState, list[Action]]:
    """The state with an intent for every Start among `actions` (those re-issued keep theirs),
    and the actions with each Start naming its intent."""
    intents = list(state.intents)
    known = {i.id for i in intents}
    out: list[Action] = []
    for n, action in enumerate(actions):
        if isinstance(action, Start) and action.intent not in known:
            seen = observed.get(action.agent)
            ident = f"{action.agent}-{action.kind}-{now:.3f}-{n}"
            intents.append(Intent(ident, action.agent, action.kind, action.reason, now, seen.launch_pid if seen is not None else None,
                                  action.prompt, action.resume))
            action = replace(action, intent=ident)
        out.append(action)
    return replace(state, intents=tuple(intents)), out


def settle_start(state: WatchdogState, intent: str) -> WatchdogState:
    """The state with the intent `intent` closed (its start was carried out, or failed and is
    left to the restart policy)."""
    if not intent:
        return state
    return replace(state, intents=tuple(i for i in state.intents if i.id != intent))
