"""The witnesses: fold this tick's captures and hook events into the state, then judge each agent.

- Screen: the idle clock starts from tmux's own record of the window's last activity, so a
  restarted watchdog (or one that lost its state) still sees the true idle time; a capture whose
  content hash changed moves it forward to that activity time. A capture that only redrew the
  same content (a spinner timer ticking) does not.
- Hooks: the events appended to the agent's hook file since the last tick are folded into its
  `HookState` (events from before the agent's current start belong to its old process). Each
  event is activity: it moves the idle clock too.
- Verdict: `truth.fold.judge` over hooks, Claude's status file and the screen; a disagreement
  that outlives the grace is a `truth-conflict` note (once per episode), and a person being
  needed (a permission prompt) is a `needs-input` note (once per episode).
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.config.schema import Config
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth import hook_events
from agent_orchestrator.truth.fold import Witnesses, due_report, judge
from agent_orchestrator.truth.model import HookState
from agent_orchestrator.watchdog.model import Action, Note, Observation, Step
from agent_orchestrator.watchdog.state import AgentState, WatchdogState

_START_SLACK = 1.0  # seconds: a hook's clock and ours are the same wall clock, up to a tick's jitter


def _screen(st: AgentState, seen_screen: ScreenFacts | None, activity: float) -> AgentState:
    changed = st
    if seen_screen is not None:
        if st.facts is None or seen_screen.hash != st.facts.hash:
            changed = replace(changed, idle_since=activity if st.idle_since is None else max(activity, st.idle_since))
        changed = replace(changed, facts=seen_screen, last_activity=activity)
    if changed.idle_since is None:
        changed = replace(changed, idle_since=activity)
    return changed


def witness(config: Config, state: WatchdogState, observation: Observation) -> Step:
    """The state with every agent's screens, hook events and verdict folded in, and the notes
    the verdicts call for."""
    notes: list[Action] = []
    for agent in config.agents:
        seen = observation.agents.get(agent.name)
        if seen is None:
            continue
        if seen.pane is None and agent.name not in state.agents:
            continue  # never seen and not there: nothing to remember, no verdict to keep
        st = state.agent(agent.name)
        before = st
        if seen.pane is not None:
            st = _screen(st, seen.screen, seen.pane.window_activity)
        if seen.hook_offset is not None and (seen.hook_events or seen.hook_reset or seen.hook_offset != st.hooks.offset):
            hooks = HookState() if seen.hook_reset else st.hooks
            since = st.last_start - _START_SLACK if st.last_start is not None else None
            hooks = replace(hook_events.fold(hooks, seen.hook_events, since=since), offset=seen.hook_offset)
            if hooks.last_event_at is not None and hooks.last_event_at != st.hooks.last_event_at:
                st = replace(st, idle_since=max(st.idle_since or 0.0, min(hooks.last_event_at, observation.now)))
            st = replace(st, hooks=hooks)
        backend = config.backend_of(agent)
        pane = seen.pane
        alive = pane is not None and not pane.dead and not pane.exited_to_shell(backend.process_name)
        live_hooks = seen.hook_offset is not None and st.hooks.last_event_at is not None
        truth = judge(Witnesses(alive, st.hooks if live_hooks else None, seen.session_status, st.facts,
                                stop_failure=backend.screen != "codex"), observation.now, st.truth)
        if due_report(truth, observation.now):
            notes.append(Note(agent.name, "truth-conflict", truth.conflict,
                              {"hook": truth.hook, "status": truth.status, "screen": truth.screen, "chosen": truth.label}))
            truth = replace(truth, conflict_reported=True)
        previous = st.truth.state if st.truth is not None else ""
        if truth.state == "needs-input" and previous != "needs-input" and agent.enabled:
            notes.append(Note(agent.name, "needs-input", truth.detail or "a person must answer", {"source": truth.source}))
        if truth != st.truth:  # (a quiet tick changes nothing: no copy of the agent's state)
            st = replace(st, truth=truth)
        if st is not before:
            state = state.with_agent(agent.name, st)
    return Step(state, tuple(notes))
