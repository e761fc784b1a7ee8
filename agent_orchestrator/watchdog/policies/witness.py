"""The screen witness: fold this tick's captures into the remembered facts and idle clocks.

The idle clock of an agent starts from tmux's own record of its window's last activity, so a
restarted watchdog (or one that lost its state) still sees the true idle time; a capture whose
content hash changed moves it forward to that activity time. A capture that only redrew the
same content (a spinner timer ticking) does not.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.model import Observation
from agent_orchestrator.watchdog.state import WatchdogState


def witness(config: Config, state: WatchdogState, observation: Observation) -> WatchdogState:
    """The state with every agent's fresh screen facts and idle clock folded in."""
    for agent in config.agents:
        seen = observation.agents.get(agent.name)
        if seen is None or seen.pane is None:
            continue
        st = state.agent(agent.name)
        activity = seen.pane.window_activity
        changed = st
        if seen.screen is not None:
            if st.facts is None or seen.screen.hash != st.facts.hash:
                changed = replace(changed, idle_since=activity if st.idle_since is None else max(activity, st.idle_since))
            changed = replace(changed, facts=seen.screen, last_activity=activity)
        if changed.idle_since is None:
            changed = replace(changed, idle_since=activity)
        if changed != st:
            state = state.with_agent(agent.name, changed)
    return state
