"""Folding the executor's outcomes into the state (pure): what a tick learned by acting.

- a start that failed counts as a failed start of the restart policy (and backs off); either
  way its intent is closed;
- the on_complete task started → `on_complete = "started"`;
- a message handed over leaves the outbox once confirmed; one handed to the CLI's own queue
  waits there ("in-cli") for the CLI to accept it; one not delivered goes back in the queue with
  a growing retry delay (signal_interval × attempts, capped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.model import Deliver, Outcome, Start
from agent_orchestrator.watchdog.policies.intents import settle_start
from agent_orchestrator.watchdog.policies.outbox import settle_delivery
from agent_orchestrator.watchdog.state import WatchdogState


def settle(config: Config, state: WatchdogState, outcomes: Sequence[Outcome], now: float) -> WatchdogState:
    """The state after the executor reported `outcomes` at `now` (epoch seconds)."""
    wd = config.watchdog
    for outcome in outcomes:
        action = outcome.action
        if isinstance(action, Start):
            state = settle_start(state, action.intent)
            st = state.agent(action.agent)
            if not outcome.ok:
                failed = st.failed_starts + 1
                backoff = min(wd.restart_backoff * 2 ** (failed - 1), wd.restart_backoff_max)
                state = state.with_agent(action.agent, replace(st, failed_starts=failed, next_restart_at=now + backoff))
            elif action.kind == "on-complete":
                state = replace(state, phase=replace(state.phase, on_complete="started"))
        elif isinstance(action, Deliver):
            state = settle_delivery(state, action.agent, action.message, ok=outcome.ok, via=action.via,
                                    confirmed=bool(outcome.confirmed), detail=outcome.detail, now=now,
                                    retry_interval=wd.signal_interval)
    return state
