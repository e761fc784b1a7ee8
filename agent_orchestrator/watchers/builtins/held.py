"""Held watcher: an agent paused by the operator (`agents pause NAME`) and forgotten past the window.

Drain: agents the watchdog's state marks paused. The pause time comes from the watchdog's event
log (the latest `pause` event of the agent, folded incrementally); when the log has none (it was
rotated), the first tick that saw the agent paused stands in for it. A resume ends the episode.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent_orchestrator.watchdog.state import WatchdogState
from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, WatcherContext, declare
from agent_orchestrator.watchers.sources import EventFold, watchdog_state

DECLARATION = declare("held", "agent-held", "flag-held")


def held_agents(state: WatchdogState, paused_at: Mapping[str, float], first_seen: dict[str, float], now: float) -> list[Entity]:
    """Paused agents as entities (pure apart from remembering `first_seen` for agents without a
    pause event)."""
    out = []
    for name, st in state.agents.items():
        if not st.paused:
            first_seen.pop(name, None)
            continue
        since = paused_at.get(name)
        if since is None:
            since = first_seen.setdefault(name, now)
        out.append(Entity(id=f"held:{name}", state="paused", changed_at=since,
                          summary=f"{name} is paused by the operator (resume it with `agents resume {name}`)",
                          inputs={"agent": name, "paused_at": since}))
    return out


def make(ctx: WatcherContext) -> FlagWatcher:
    """The held watcher of the project in `ctx`."""
    fold = EventFold(ctx.log_dir)
    first_seen: dict[str, float] = {}

    def drain(now: float) -> list[Entity]:
        fold.update()
        return held_agents(watchdog_state(ctx.log_dir), fold.paused_at, first_seen, now)

    return DECLARATION.watcher(drain)
