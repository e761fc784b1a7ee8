"""Wakes (signal tick): `wake = {interval, prompt}` on an agent.

- persistent: re-prompt the live session with the wake prompt;
- task: re-run it fresh with the wake prompt unless the previous run is still active (alive and
  busy);
- loop agents' wakes go quiet after SEQUENCE-COMPLETE; persistent wakes keep going;
- a wake due while the agent waits out a usage limit is deferred until the window closes.
The first wake comes one interval after the watchdog first sees the agent.
"""

from __future__ import annotations

from agent_orchestrator.agents.kickoff import agent_kickoff
from agent_orchestrator.watchdog.model import Action, Note, Send, Start, Tick
from agent_orchestrator.watchdog.policies.heal import record_start


def wakes(tick: Tick) -> list[Action]:
    """Wake actions for every agent whose wake is due."""
    actions: list[Action] = []
    for name, view in tick.views.items():
        agent = view.agent
        wake = agent.wake
        st = tick.agent_state(name)
        if wake is None or not agent.enabled or st.paused or st.needs_human:
            continue
        if st.next_wake_at is None:
            st.next_wake_at = tick.now + wake.interval
            continue
        if tick.now < st.next_wake_at:
            continue
        if st.limit is not None:
            continue  # deferred: due, and taken as soon as the limit window closes
        if agent.kind == "loop" and tick.phase.complete:
            st.next_wake_at = tick.now + wake.interval
            continue
        st.next_wake_at = tick.now + wake.interval
        prompt = wake.prompt or agent_kickoff(tick.config, agent, tick.phase.index) or ""
        if agent.kind == "task":
            if view.alive and view.busy:
                actions.append(Note(name, "wake-skipped", "the previous run is still active"))
                continue
            record_start(tick, name)
            actions.append(Start(name, "wake: task re-run", prompt=prompt, action="wake"))
        elif view.alive:
            actions.append(Send(name, prompt, "wake", f"wake every {wake.interval:g}s"))
        else:
            actions.append(Note(name, "wake-skipped", "the agent is not running"))
    return actions
