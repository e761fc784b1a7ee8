"""The phase machine (signal tick): advance when the pushed status file carries the done marker.

- Phase done = the current phase's status file, as pushed on origin/main of the handoff repo,
  has a line equal to the done marker (`markers.has_done_marker`: not in a fence, quote or
  comment) — the driver reads it into `tick.git.status_done`.
- Advance: record the phase's tokens, move the index, clear the DONE-nudge flags, restart loop
  agents fresh with the next phase's kickoff (`[loop].resume` keeps their conversations).
- After the last phase: SEQUENCE-COMPLETE (written once) and `on_complete.run` started exactly
  once — the decision is checkpointed as "pending" before the start, so a watchdog killed in
  between finishes the job instead of starting it twice.
- Phases appended to agents.toml after completion resume the sequence at the new phase.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Note, PhaseChange, Start, Step, Tick
from agent_orchestrator.watchdog.policies.starts import on_start
from agent_orchestrator.watchdog.state import AgentState, WatchdogState

ADVANCE_GRACE = 60.0  # seconds a phase advance waits for busy loop agents to finish their turn


def restart_loop_agents(tick: Tick, state: WatchdogState, reason: str) -> tuple[WatchdogState, list[Action]]:
    """Fresh (or resumed, with [loop].resume) starts of every enabled loop agent."""
    loop = tick.config.loop
    actions: list[Action] = []
    for agent in tick.config.agents:
        if agent.kind != "loop" or not agent.enabled:
            continue
        st = on_start(state.agent(agent.name), tick.now, window=tick.config.watchdog.restart_window, count=False)
        state = state.with_agent(agent.name, replace(st, nudged_phase=None))  # a new phase earns a new nudge
        actions.append(Start(agent.name, reason, resume=bool(loop and loop.resume), kind="advance"))
    return state, actions


def set_phase(state: WatchdogState, index: int, now: float, *, reset: bool = False) -> WatchdogState:
    """The state moved to phase `index` by hand (`phase set/advance/reset`): the phase starts
    now, the sequence is no longer complete and DONE-nudge flags are cleared. `reset` also
    forgets that on_complete ran and the gate in flight."""
    ph = replace(state.phase, index=index, started=now, complete=False, completed_at=None, done_seen_at=None)
    hs = state.handoff
    if reset:
        ph = replace(ph, on_complete="", on_complete_phases=0)
        hs = replace(hs, gate=None, gate_started=None)
    agents: dict[str, AgentState] = {name: replace(st, nudged_phase=None) for name, st in state.agents.items()}
    return replace(state, phase=ph, handoff=hs, agents=agents)


def on_complete(tick: Tick, state: WatchdogState) -> tuple[WatchdogState, list[Action]]:
    """Start the on_complete task exactly once per completion, also across watchdog restarts.

    "pending" (decided at completion, on disk) → "starting": the task's launcher pid as it is now
    is remembered and the start goes out; settling the start's outcome marks "started". A
    watchdog that died in between finds "starting" and looks at the launcher pid: a new one means
    the task did start (mark it), the same one means it did not (start it now). No clocks are
    compared, so the check holds to the process, however close two completions come. A start
    that failed is retried after the restart backoff, not every tick.
    """
    loop = tick.config.loop
    ph = state.phase
    if loop is None or loop.on_complete is None or ph.on_complete not in ("pending", "starting"):
        return state, []
    name = loop.on_complete.run
    view = tick.views.get(name)
    launch_pid = view.launch_pid if view is not None else None
    if ph.on_complete == "starting":
        if launch_pid is not None and launch_pid != ph.on_complete_prev_pid:
            state = replace(state, phase=replace(ph, on_complete="started"))
            return state, [Note(name, "on-complete-confirmed", "already started before the watchdog restarted")]
        if state.agent(name).next_restart_at > tick.now:
            return state, []  # the last start failed: back off
    else:
        state = replace(state, phase=replace(ph, on_complete="starting", on_complete_prev_pid=launch_pid))
    state = state.with_agent(name, on_start(state.agent(name), tick.now, window=tick.config.watchdog.restart_window, count=False))
    return state, [Start(name, "sequence complete: on_complete", kind="on-complete")]


def phases(tick: Tick) -> Step:
    """Advance, complete or resume the phase sequence."""
    loop = tick.config.loop
    state = tick.state
    if loop is None or not loop.phases:
        return Step(state)
    ph = state.phase
    if ph.started is None:
        ph = replace(ph, started=tick.now)
        state = replace(state, phase=ph)
    if ph.complete:
        if len(loop.phases) > ph.index + 1:
            index = ph.index + 1
            state = replace(state, phase=replace(ph, index=index, complete=False, completed_at=None, started=tick.now))
            new = loop.phases[index].id
            state, starts = restart_loop_agents(tick, state, f"phase {new} (appended)")
            return Step(state, (PhaseChange(None, index, False, f"phases were appended: resuming at {new}", resumed=new), *starts))
        state, actions = on_complete(tick, state)
        return Step(state, tuple(actions))
    git = tick.git
    if git is None or not git.ok or not git.status_done:
        return Step(replace(state, phase=replace(ph, done_seen_at=None)) if ph.done_seen_at is not None else state)
    ended = loop.phases[min(ph.index, len(loop.phases) - 1)].id
    # A loop agent on a [[host]] that does not answer cannot be restarted into the next phase
    # (it would carry on in the old one unseen): the advance waits for the host, however long.
    # (The host-unreachable note says why; `done_seen_at` is left alone so the busy wait below
    # still applies once it answers.)
    if any(a.kind == "loop" and a.enabled and a.host in tick.unreachable for a in tick.config.agents):
        return Step(state)
    # A token budget holds the loop agents (`policies.budget`): no new phase's kickoff either.
    if state.budget.held:
        return Step(state)
    # The agent that pushed the marker is usually still finishing its reply: restarting it now
    # would cut that reply off (and lose its tokens). Wait, a bounded time, for idle loop agents.
    busy = sorted(n for n, v in tick.views.items() if v.agent.kind == "loop" and v.alive and v.busy)
    if busy and (ph.done_seen_at is None or tick.now - ph.done_seen_at < ADVANCE_GRACE):
        if ph.done_seen_at is not None:
            return Step(state)
        state = replace(state, phase=replace(ph, done_seen_at=tick.now))
        return Step(state, (Note("", "phase-done-waiting", f"{ended} is done; waiting for {', '.join(busy)} to finish the turn"),))
    # The gate in flight ends with its phase (its token record is closed with the phase's).
    state = replace(state, handoff=replace(state.handoff, gate=None, gate_started=None))
    ph = replace(ph, done_seen_at=None)
    if ph.index + 1 < len(loop.phases):
        index = ph.index + 1
        # The next phase starts where the ended one stops for the token ledger (`Tick.phase_end`):
        # a ledger that finds it moved on without a close (a watchdog killed in between) ends the
        # old phase at this start, the same boundary.
        state = replace(state, phase=replace(ph, index=index, started=tick.phase_end))
        new = loop.phases[index].id
        state, starts = restart_loop_agents(tick, state, f"phase {new}")
        return Step(state, (PhaseChange(ended, index, False, f"{ended} done: advancing to {new}"), *starts))
    ph = replace(ph, complete=True, completed_at=tick.phase_end)
    if loop.on_complete is not None and ph.on_complete_phases < len(loop.phases):
        ph = replace(ph, on_complete="pending", on_complete_phases=len(loop.phases))
    return Step(replace(state, phase=ph), (PhaseChange(ended, ph.index, True, f"{ended} done: SEQUENCE-COMPLETE"),))
