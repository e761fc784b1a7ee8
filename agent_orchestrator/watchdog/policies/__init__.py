"""Watchdog policies: pure functions `Tick -> list[Action]`, one module per behaviour."""

from agent_orchestrator.watchdog.model import Keys, Send, Start
from agent_orchestrator.watchdog.policies.dialogs import dialogs
from agent_orchestrator.watchdog.policies.handoff import handoff
from agent_orchestrator.watchdog.policies.heal import heal
from agent_orchestrator.watchdog.policies.phases import phases
from agent_orchestrator.watchdog.policies.redeliver import redeliver
from agent_orchestrator.watchdog.policies.stall import stall
from agent_orchestrator.watchdog.policies.usage_limits import usage_limits
from agent_orchestrator.watchdog.policies.wakes import wakes

# Order matters: the phase machine first (an advance restarts loop agents, so nothing else should
# act on their old screens), handoff pings, limits (they make an agent quiet for the others),
# then heal, dialogs, stall, wakes and redelivery.
LIGHT = (phases, handoff, usage_limits, heal, dialogs, stall, wakes, redeliver)


def run_policies(tick, first: list | None = None) -> list:
    """Every policy over one tick, in order, after the `first` actions (e.g. a phase set by
    hand); returns the actions concatenated.

    An agent (re)started by an earlier policy this tick is left alone by the later ones: one
    start per agent per tick, and no message to a session that is being replaced.
    """
    actions: list = []
    restarted: set[str] = set()
    for policy in (lambda _tick: list(first or ()), *LIGHT):
        for action in policy(tick):
            if isinstance(action, (Start, Send, Keys)) and action.agent in restarted:
                continue
            if isinstance(action, Start):
                restarted.add(action.agent)
            actions.append(action)
    return actions


__all__ = ["LIGHT", "dialogs", "handoff", "heal", "phases", "redeliver", "run_policies", "stall", "usage_limits", "wakes"]
