"""CLI requests (signal tick): apply what `restart`, `pause`, `resume`, `phase` and `send` asked for.

Verbs never write the watchdog's state; they drop a request file and the next tick applies it
here. Each request is applied once: its id joins `requests_done` in the same state that carries
its effect, and the driver removes the file only after that state is saved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from agent_orchestrator.watchdog.model import Action, Note, PhaseChange, Send, SendKind, Step, Tick
from agent_orchestrator.watchdog.policies.phases import restart_loop_agents, set_phase
from agent_orchestrator.watchdog.policies.starts import on_start

KEEP_DONE = 200  # request ids remembered (far more than can pile up between two ticks)


def requests(tick: Tick) -> Step:
    """The state with every new request applied, and their events (and loop restarts)."""
    state = tick.state
    actions: list[Action] = []
    done = list(state.requests_done)
    for request in tick.requests:
        if request.id in done:
            continue
        done.append(request.id)
        name = request.agent
        if request.action == "clear":
            st = on_start(state.agent(name), tick.now, window=tick.config.watchdog.restart_window, count=False, clear_holds=True)
            state = state.with_agent(name, st)
            actions.append(Note(name, "cleared", "restarted by hand (agents restart)"))
        elif request.action in ("pause", "resume"):
            state = state.update_agent(name, paused=request.action == "pause")
            if request.action == "resume" and name in state.budget.held_agents and state.agent(name).needs_human == state.budget.hold:
                state = state.update_agent(name, needs_human="")  # releases the token budget hold (`policies.budget`)
            actions.append(Note(name, request.action, f"{request.action}d by hand"))
        elif request.action == "phase" and request.index is not None:
            loop = tick.config.loop
            if loop is None or not 0 <= request.index < len(loop.phases):
                actions.append(Note("", "request-refused", f"phase index {request.index} is not in [loop].phases"))
                continue
            state = set_phase(state, request.index, tick.now, reset=request.reset)
            why = f"phase set by hand ({request.why or 'phase verb'})"
            state, starts = restart_loop_agents(tick, state, why)
            actions.append(PhaseChange(None, request.index, False, why, resumed=loop.phases[request.index].id, by_hand=True))
            actions += starts
        elif request.action == "send" and request.text.strip() and tick.config.agent(name) is not None:
            kind = cast(SendKind, request.kind if request.kind in ("send", "flag", "fix") else "send")
            actions.append(Send(name, request.text, kind, request.why or f"{kind} by request"))
        else:
            actions.append(Note(name, "request-refused", f"unknown or incomplete request {request.action!r} ({request.id})"))
    return Step(replace(state, requests_done=tuple(done[-KEEP_DONE:])), tuple(actions))
