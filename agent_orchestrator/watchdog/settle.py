"""Folding the executor's outcomes into the state (pure): what a tick learned by acting.

- a start that failed counts as a failed start of the restart policy (and backs off);
- the on_complete task started → `on_complete = "started"`;
- a message delivered leaves the redelivery queue; one not delivered joins it (or counts a
  failed attempt), retried after signal_interval × attempts, at most `RETRY_CAP` seconds apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.model import Outcome, Send, Start
from agent_orchestrator.watchdog.state import Pending, WatchdogState

RETRY_CAP = 300.0  # seconds between two redeliveries at most


def settle(config: Config, state: WatchdogState, outcomes: Sequence[Outcome], now: float) -> WatchdogState:
    """The state after the executor reported `outcomes` at `now` (epoch seconds)."""
    wd = config.watchdog
    for outcome in outcomes:
        action = outcome.action
        if isinstance(action, Start):
            st = state.agent(action.agent)
            if not outcome.ok:
                failed = st.failed_starts + 1
                backoff = min(wd.restart_backoff * 2 ** (failed - 1), wd.restart_backoff_max)
                state = state.with_agent(action.agent, replace(st, failed_starts=failed, next_restart_at=now + backoff))
            elif action.kind == "on-complete":
                state = replace(state, phase=replace(state.phase, on_complete="started"))
        elif isinstance(action, Send):
            st = state.agent(action.agent)
            previous = next((p for p in st.pending if p.text == action.text and p.kind == action.kind), None)
            if outcome.ok:
                if previous is not None:
                    state = state.with_agent(action.agent, replace(st, pending=tuple(p for p in st.pending if p is not previous)))
                continue
            attempts = (previous.attempts if previous else 0) + 1
            delay = min(wd.signal_interval * attempts, RETRY_CAP)
            if previous is None:
                pending = (*st.pending, Pending(action.text, action.kind, action.reason, now, attempts=attempts,
                                                next_try=now + delay, last_error=outcome.detail))
            else:
                updated = replace(previous, attempts=attempts, next_try=now + delay, last_error=outcome.detail)
                pending = tuple(updated if p is previous else p for p in st.pending)
            state = state.with_agent(action.agent, replace(st, pending=pending))
    return state
