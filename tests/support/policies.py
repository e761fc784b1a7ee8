"""Building blocks for policy tests: a `Tick` from a few keywords, states, screens and panes.

Policies are pure (`Tick -> Step`), so a test is a row: (state, what was observed, now) →
(actions, state). Nothing here touches tmux, git or the clock.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_orchestrator.config import Config, load_config
from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth.model import Truth
from agent_orchestrator.watchdog.model import (
    Action,
    AgentObservation,
    AgentView,
    CloseTokens,
    Deliver,
    GitView,
    Keys,
    Note,
    Observation,
    PhaseChange,
    PhaseView,
    Request,
    Send,
    Start,
    Tick,
    TokenView,
)
from agent_orchestrator.watchdog.state import AgentState, HandoffState, PhaseState, WatchdogState

NOW = 1_800_000_000.0


def write_config(directory: Path, body: str) -> Config:
    """agents.toml (dedented `body`) in `directory`, with kickoff.md and plan.md beside it."""
    (directory / "kickoff.md").write_text("Phase {phase_id}: {plan}")
    (directory / "plan.md").write_text("plan")
    (directory / "agents.toml").write_text(textwrap.dedent(body))
    return load_config(directory / "agents.toml")


def pane(session: str = "t-x", *, dead: bool = False, status: int | None = None, command: str = "python3",
         activity: float = NOW - 5, pid: int = 100) -> PaneObservation:
    """A pane as tmux reports it (created an hour ago)."""
    return PaneObservation(session, "%1", pid, dead, status, command, activity, NOW - 3600, 200, 50)


def facts(**kw: Any) -> ScreenFacts:
    """Screen facts of a finished turn captured a second ago, with `kw` over them."""
    if "dialog_keys" in kw:
        kw["dialog_keys"] = tuple(kw["dialog_keys"])
    return ScreenFacts(**{"hash": "h", "state": "done_idle", "captured_at": NOW - 1, **kw})


def state_of(*, phase: PhaseState | None = None, handoff: HandoffState | None = None, **agents: AgentState) -> WatchdogState:
    """A state holding `agents` (by name), and optionally a phase and handoff state."""
    state = WatchdogState(agents=dict(agents))
    if phase is not None:
        state = replace(state, phase=phase)
    if handoff is not None:
        state = replace(state, handoff=handoff)
    return state


def idle(agent: str, idle_for: float, **facts_kw: Any) -> WatchdogState:
    """A state where `agent` has been idle `idle_for` seconds with the given screen facts."""
    return state_of(**{agent: AgentState(idle_since=NOW - idle_for, facts=facts(**facts_kw))})


def tick(config: Config, state: WatchdogState | None = None, *, now: float = NOW, heavy: bool = True,
         panes: Mapping[str, PaneObservation | None] | None = None, screen: Mapping[str, ScreenFacts] | None = None,
         status: Mapping[str, str] | None = None, phase: PhaseView | None = None, captured: bool = True,
         git: GitView | None = None, services: Mapping[str, PaneObservation | None] | None = None,
         run_seconds: Mapping[str, float] | None = None, launch_pid: Mapping[str, int] | None = None,
         wake_text: Mapping[str, str] | None = None, tokens: TokenView | None = None,
         requests: Iterable[Request] = (), truth: Mapping[str, Truth] | None = None, wake_error: Mapping[str, str] | None = None) -> Tick:
    """One tick over `config`: every agent alive (a fresh pane) unless `panes` says otherwise
    (None = session gone); facts from `screen`, else the state's; the phase from the state."""
    state = state or WatchdogState()
    views = {}
    for agent in config.agents:
        p = (panes or {}).get(agent.name, pane(agent.session or ""))
        f = (screen or {}).get(agent.name, state.agent(agent.name).facts)
        views[agent.name] = AgentView(agent.name, agent, config.backend_of(agent), p, f, captured, (status or {}).get(agent.name),
                                      (run_seconds or {}).get(agent.name), (launch_pid or {}).get(agent.name),
                                      (wake_text or {}).get(agent.name), (wake_error or {}).get(agent.name, ""),
                                      (truth or {}).get(agent.name, Truth()))
    if phase is None:
        loop = config.loop
        ph = state.phase
        if loop is not None and loop.phases:
            current = loop.phases[min(ph.index, len(loop.phases) - 1)]
            phase = PhaseView(ph.index, current.id, current.status, loop.done_marker,
                              done=bool(git and git.status_done), complete=ph.complete)
        else:
            phase = PhaseView(complete=ph.complete)
    return Tick(config, state, views, now, phase, heavy, dict(services or {}), git, tokens, tuple(requests))


def observation(config: Config, *, now: float = NOW, panes: Mapping[str, PaneObservation | None] | None = None,
                screen: Mapping[str, ScreenFacts] | None = None, status: Mapping[str, str] | None = None,
                git: GitView | None = None, services: Mapping[str, PaneObservation | None] | None = None,
                run_seconds: Mapping[str, float] | None = None, launch_pid: Mapping[str, int] | None = None,
                wake_text: Mapping[str, str] | None = None, tokens: TokenView | None = None,
                requests: Iterable[Request] = (), created: Iterable[float] = ()) -> Observation:
    """What one tick observed over `config` (the input of `decide` and `witness`): every agent
    alive (a fresh pane) unless `panes` says otherwise (None = session gone); `screen` holds the
    captures taken this tick (an agent without one was not captured: its facts are the state's)."""
    agents = {}
    for agent in config.agents:
        agents[agent.name] = AgentObservation(
            agent.name, (panes or {}).get(agent.name, pane(agent.session or "")), (screen or {}).get(agent.name),
            (status or {}).get(agent.name), (run_seconds or {}).get(agent.name), (launch_pid or {}).get(agent.name),
            (wake_text or {}).get(agent.name),
        )
    return Observation(now, agents, dict(services or {}), git, tuple(requests), tokens, tuple(created))


def kinds(actions: Iterable[Action]) -> list[tuple[str, str, str]]:
    """(type, agent, what) per action: a start's kind, a send's kind, a delivery's way, a note's event."""
    out = []
    for a in actions:
        if isinstance(a, Start):
            out.append(("Start", a.agent, a.kind))
        elif isinstance(a, Send):
            out.append(("Send", a.agent, a.kind))
        elif isinstance(a, Note):
            out.append(("Note", a.agent, a.event))
        elif isinstance(a, Keys):
            out.append(("Keys", a.agent, " ".join(a.keys)))
        elif isinstance(a, PhaseChange):
            out.append(("PhaseChange", "", a.resumed or a.ended_phase or ""))
        elif isinstance(a, Deliver):
            out.append(("Deliver", a.agent, a.via))
        elif isinstance(a, CloseTokens):
            out.append(("CloseTokens", "", a.phase + (":gate" if a.gate_only else "")))
        else:
            out.append((type(a).__name__, getattr(a, "agent", ""), ""))
    return out


def unintended(actions: Iterable[Action]) -> list[Action]:
    """The actions with each Start's intent id blanked (ids carry the time of the tick)."""
    return [replace(a, intent="") if isinstance(a, Start) else a for a in actions]
