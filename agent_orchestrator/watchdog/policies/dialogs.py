"""Startup dialogs (signal tick): answer them with the keys the backend configures."""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Keys, Step, Tick


def dialogs(tick: Tick) -> Step:
    """Answer startup dialogs (trust, API key, bypass…) with the keys the backend configures.

    At most three answers per start, so a dialog whose keys do not work cannot loop forever.
    """
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        facts = view.facts
        st = state.agent(name)
        if facts is None or not facts.dialog or not facts.dialog_keys or not view.captured or not view.alive:
            continue
        if st.dialogs_answered >= 3:
            continue
        state = state.with_agent(name, replace(st, dialogs_answered=st.dialogs_answered + 1))
        actions.append(Keys(name, tuple(facts.dialog_keys), f"dialog: {facts.dialog}"))
    return Step(state, tuple(actions))
