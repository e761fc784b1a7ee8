"""Redelivery (signal tick): messages whose delivery failed are retried, never silently dropped.

Each retry waits longer (signal_interval × attempts, capped at 5 minutes); after 10 failed
attempts the message is given up loudly (a `delivery-abandoned` event) so a human hears of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from agent_orchestrator.watchdog.model import Action, Note, Send, SendKind, Step, Tick

MAX_ATTEMPTS = 10


def redeliver(tick: Tick) -> Step:
    """Send actions for pending messages whose retry time has come."""
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        st = state.agent(name)
        if not st.pending or st.limit is not None or st.paused:
            continue
        keep = []
        for pending in st.pending:
            if pending.attempts >= MAX_ATTEMPTS:
                actions.append(Note(name, "delivery-abandoned",
                                    f"{pending.kind} not delivered after {pending.attempts} attempts: {pending.last_error}",
                                    {"text": pending.text[:200]}))
                continue
            keep.append(pending)  # settle drops it once delivered, or counts the failed attempt
            if tick.now >= pending.next_try and view.alive and not view.busy:
                actions.append(Send(name, pending.text, cast(SendKind, pending.kind), f"retry {pending.attempts + 1} of a failed {pending.kind}"))
        if len(keep) != len(st.pending):
            state = state.with_agent(name, replace(st, pending=tuple(keep)))
    return Step(state, tuple(actions))
