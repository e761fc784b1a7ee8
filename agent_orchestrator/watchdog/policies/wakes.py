"""Wakes (signal tick): `wake = {interval, prompt}` on an agent.

- persistent: re-prompt the live session with the wake prompt;
- task: re-run it fresh with the wake prompt unless the previous run is still active (alive and
  busy);
- loop agents' wakes go quiet after SEQUENCE-COMPLETE; persistent wakes keep going;
- a wake due while the agent waits out a usage limit is deferred until the window closes.
The first wake comes one interval after the watchdog first sees the agent.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Note, Send, Start, Step, Tick
from agent_orchestrator.watchdog.policies.starts import on_start


def wakes(tick: Tick) -> Step:
    """Wake actions for every agent whose wake is due."""
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        agent = view.agent
        wake = agent.wake
        st = state.agent(name)
        if wake is None or not agent.enabled or st.paused or st.needs_human:
            continue
        if st.next_wake_at is None:
            state = state.with_agent(name, replace(st, next_wake_at=tick.now + wake.interval))
            continue
        if tick.now < st.next_wake_at:
            continue
        if st.limit is not None:
            continue  # deferred: due, and taken as soon as the limit window closes
        st = replace(st, next_wake_at=tick.now + wake.interval)
        if agent.kind == "loop" and tick.phase.complete:
            state = state.with_agent(name, st)
            continue
        prompt = wake.prompt or view.wake_text
        if prompt is None:
            state = state.with_agent(name, st)
            actions.append(Note(name, "wake-skipped", f"no wake text: {view.wake_error or 'the agent has no prompt'}"))
            continue
        if agent.kind == "task":
            if view.alive and view.busy:
                state = state.with_agent(name, st)
                actions.append(Note(name, "wake-skipped", "the previous run is still active"))
                continue
            state = state.with_agent(name, on_start(st, tick.now, window=tick.config.watchdog.restart_window))
            actions.append(Start(name, "wake: task re-run", prompt=prompt, kind="wake"))
        elif view.alive:
            state = state.with_agent(name, st)
            actions.append(Send(name, prompt, "wake", f"wake every {wake.interval:g}s"))
        else:
            state = state.with_agent(name, st)
            actions.append(Note(name, "wake-skipped", "the agent is not running"))
    return Step(state, tuple(actions))
