"""Watchdog policies: pure functions `Tick -> list[Action]`, one module per behaviour."""

from agent_orchestrator.watchdog.policies.dialogs import dialogs
from agent_orchestrator.watchdog.policies.heal import heal
from agent_orchestrator.watchdog.policies.redeliver import redeliver
from agent_orchestrator.watchdog.policies.stall import stall
from agent_orchestrator.watchdog.policies.usage_limits import usage_limits
from agent_orchestrator.watchdog.policies.wakes import wakes

# Order matters: limits first (they make an agent quiet for the others), then heal, dialogs,
# stall, wakes and redelivery.
LIGHT = (usage_limits, heal, dialogs, stall, wakes, redeliver)


def run_policies(tick) -> list:
    """Every policy over one tick, in order; returns their actions concatenated."""
    actions: list = []
    for policy in LIGHT:
        actions += policy(tick)
    return actions


__all__ = ["LIGHT", "dialogs", "heal", "redeliver", "run_policies", "stall", "usage_limits", "wakes"]
