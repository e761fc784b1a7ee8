"""One tick's decision: `decide(config, state, observation, now) -> Step(state', actions)`.

Pure: no I/O, no clock. The observation is folded into the state (screens, idle clocks, CLI
requests), then every policy runs in order over the state the previous one left. An agent that
an earlier policy (re)started is masked from the later ones' view — the session is being
replaced, so nothing may be read from its old screen or sent to it. A policy that raises leaves
no trace in the state (it is frozen data) and becomes a `policy-error` note; the others still
run, so one bad input cannot cost a tick its pings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agent_orchestrator.config.schema import Config
from agent_orchestrator.truth.model import Truth
from agent_orchestrator.watchdog.model import (
    Action,
    AgentView,
    GitView,
    Note,
    Observation,
    PhaseView,
    Send,
    Start,
    Step,
    Tick,
)
from agent_orchestrator.watchdog.policies.budget import budget
from agent_orchestrator.watchdog.policies.dialogs import dialogs
from agent_orchestrator.watchdog.policies.handoff import handoff
from agent_orchestrator.watchdog.policies.heal import heal
from agent_orchestrator.watchdog.policies.hosts import hosts
from agent_orchestrator.watchdog.policies.intents import reconcile, record
from agent_orchestrator.watchdog.policies.outbox import enqueue, outbox
from agent_orchestrator.watchdog.policies.phases import phases
from agent_orchestrator.watchdog.policies.reannounce import reannounce
from agent_orchestrator.watchdog.policies.requests import requests
from agent_orchestrator.watchdog.policies.stall import stall
from agent_orchestrator.watchdog.policies.tokens import tokens
from agent_orchestrator.watchdog.policies.usage_limits import usage_limits
from agent_orchestrator.watchdog.policies.wakes import wakes
from agent_orchestrator.watchdog.policies.witness import witness
from agent_orchestrator.watchdog.state import WatchdogState

Policy = Callable[[Tick], Step]

# Order matters: hosts that stopped or resumed answering are noted first, then starts a previous
# watchdog left unfinished, then CLI requests (a phase set
# by hand restarts loop agents; a restart or resume releases a budget hold), token budgets (a hold
# keeps the phase machine from advancing), the phase machine (an advance restarts loop agents, so nothing
# else may act on their old screens), handoff pings, limits (they make an agent quiet for the
# others), then heal, dialogs, stall and wakes. After them: open work re-announced to agents
# restarted this tick, every message put in its agent's outbox, the outbox's deliveries, the
# start intents recorded, and the token records that follow this tick's phase and gate changes.
POLICIES: tuple[Policy, ...] = (hosts, reconcile, requests, budget, phases, handoff, usage_limits, heal, dialogs, stall, wakes)


def phase_view(config: Config, state: WatchdogState, git: GitView | None) -> PhaseView:
    """The loop's current phase; `done` as read from the pushed status file this tick."""
    loop = config.loop
    ph = state.phase
    if loop is None or not loop.phases:
        return PhaseView(complete=ph.complete)
    index = min(ph.index, len(loop.phases) - 1)
    phase = loop.phases[index]
    done = git is not None and git.status_done
    return PhaseView(index, phase.id, phase.status, loop.done_marker, done=done, complete=ph.complete)


def views(config: Config, state: WatchdogState, observation: Observation) -> dict[str, AgentView]:
    """One view per observed agent: the observation joined with the remembered screen facts."""
    out: dict[str, AgentView] = {}
    for agent in config.agents:
        seen = observation.agents.get(agent.name)
        if seen is None:
            continue
        out[agent.name] = AgentView(
            agent.name, agent, config.backend_of(agent), seen.pane, state.agent(agent.name).facts, seen.screen is not None,
            seen.session_status, seen.run_seconds, seen.launch_pid, seen.wake_text, seen.wake_error,
            state.agent(agent.name).truth or Truth(),
        )
    return out


def decide(config: Config, state: WatchdogState, observation: Observation, now: float) -> Step:
    """The state after this tick and the actions to carry out, in order."""
    witnessed = witness(config, state, observation)
    state = witnessed.state
    if state.run_started is None:
        state = replace(state, run_started=min([now, *observation.created]))
    heavy = now - state.last_heavy >= config.watchdog.heavy_interval
    if heavy:
        state = replace(state, last_heavy=now)
    seen = views(config, state, observation)
    tick = Tick(config, state, seen, now, phase_view(config, state, observation.git), heavy,
                observation.services, observation.git, observation.tokens, observation.requests, observation.unreachable,
                observation.seen_at)
    actions: list[Action] = list(witnessed.actions)
    restarted: set[str] = set()
    for policy in POLICIES:
        tick = replace(tick, state=state, views={n: v for n, v in seen.items() if n not in restarted})
        try:
            step = policy(tick)
        except Exception as exc:  # noqa: BLE001 - a bug in one policy must not cost the tick the others' actions
            actions.append(Note("", "policy-error", f"{policy.__name__}: {type(exc).__name__}: {exc}"))
            continue
        state = step.state
        for action in step.actions:
            if isinstance(action, Start):
                if action.agent in restarted:
                    continue  # one start per agent per tick
                restarted.add(action.agent)
            actions.append(action)
    tick = replace(tick, state=state, views={n: v for n, v in seen.items() if n not in restarted})
    again = reannounce(tick, actions)
    actions += again.actions
    state = enqueue(state, [a for a in actions if isinstance(a, Send)], now)
    actions = [a for a in actions if not isinstance(a, Send)]
    delivered = outbox(replace(tick, state=state))
    state = delivered.state
    actions += delivered.actions
    state, actions = record(state, actions, observation.agents, now)
    step = tokens(replace(tick, state=state), actions)
    return Step(step.state, (*actions, *step.actions))
