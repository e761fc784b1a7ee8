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

from agent_orchestrator.watchdog.model import Action, Note, PhaseChange, Start, Tick
from agent_orchestrator.watchdog.state import WatchdogState


ADVANCE_GRACE = 60.0  # seconds a phase advance waits for busy loop agents to finish their turn


def restart_loop_agents(tick: Tick, reason: str) -> list[Action]:
    """Fresh (or resumed, with [loop].resume) starts of every enabled loop agent."""
    loop = tick.config.loop
    actions: list[Action] = []
    for agent in tick.config.agents:
        if agent.kind != "loop" or not agent.enabled:
            continue
        st = tick.agent_state(agent.name)
        st.nudged_phase = None
        st.idle_since, st.facts, st.last_activity = tick.now, None, None
        st.pending = []
        actions.append(Start(agent.name, reason, resume=bool(loop and loop.resume), action="advance"))
    return actions


def set_phase(state: WatchdogState, index: int, now: float, *, reset: bool = False) -> None:
    """Move the phase machine to `index` by hand (`phase set/advance/reset`): the phase starts
    now, the sequence is no longer complete, DONE-nudge flags and the done check are cleared.
    `reset` also forgets that on_complete ran and the gate in flight."""
    ph = state.phase
    ph.index, ph.started, ph.complete, ph.completed_at = index, now, False, None
    if reset:
        ph.on_complete, ph.on_complete_phases = "", 0
        state.handoff.gate = state.handoff.gate_started = None
    state.handoff.checked_head = state.handoff.checked_phase = None
    state.handoff.status_done = False
    for st in state.agents.values():
        st.nudged_phase = None


def on_complete(tick: Tick) -> list[Action]:
    """Start the on_complete task exactly once per completion, also across watchdog restarts.

    "pending" (decided at completion, on disk) → "starting": the task's launcher pid as it is now
    is remembered and the start goes out; the executor marks "started" once it is done. A
    watchdog that died in between finds "starting" and looks at the launcher pid: a new one means
    the task did start (mark it), the same one means it did not (start it now). No clocks are
    compared, so the check holds to the process, however close two completions come.
    """
    loop = tick.config.loop
    ph = tick.state.phase
    if loop is None or loop.on_complete is None or ph.on_complete not in ("pending", "starting"):
        return []
    name = loop.on_complete.run
    view = tick.views.get(name)
    launch_pid = view.launch_pid if view is not None else None
    if ph.on_complete == "starting":
        if launch_pid is not None and launch_pid != ph.on_complete_prev_pid:
            ph.on_complete = "started"
            return [Note(name, "on-complete-confirmed", "already started before the watchdog restarted")]
    else:
        ph.on_complete, ph.on_complete_prev_pid = "starting", launch_pid
    return [Start(name, "sequence complete: on_complete", action="on-complete")]


def phases(tick: Tick) -> list[Action]:
    """Advance, complete or resume the phase sequence."""
    loop = tick.config.loop
    if loop is None or not loop.phases:
        return []
    ph = tick.state.phase
    if ph.started is None:
        ph.started = tick.now
    if ph.complete:
        if len(loop.phases) > ph.index + 1:
            ph.index += 1
            ph.complete, ph.completed_at, ph.started = False, None, tick.now
            new = loop.phases[ph.index].id
            return [PhaseChange(None, ph.index, False, f"phases were appended: resuming at {new}", resumed=new),
                    *restart_loop_agents(tick, f"phase {new} (appended)")]
        return on_complete(tick)
    git = tick.git
    if git is None or not git.ok or not git.status_done:
        ph.done_seen_at = None
        return []
    ended = loop.phases[min(ph.index, len(loop.phases) - 1)].id
    # The agent that pushed the marker is usually still finishing its reply: restarting it now
    # would cut that reply off (and lose its tokens). Wait, a bounded time, for idle loop agents.
    busy = sorted(n for n, v in tick.views.items() if v.agent.kind == "loop" and v.alive and v.busy)
    if busy and (ph.done_seen_at is None or tick.now - ph.done_seen_at < ADVANCE_GRACE):
        first = ph.done_seen_at is None
        ph.done_seen_at = ph.done_seen_at or tick.now
        return [Note("", "phase-done-waiting", f"{ended} is done; waiting for {', '.join(busy)} to finish the turn")] if first else []
    ph.done_seen_at = None
    # The gate in flight ends with its phase (its token record is closed with the phase's).
    tick.state.handoff.gate = tick.state.handoff.gate_started = None
    if ph.index + 1 < len(loop.phases):
        ph.index += 1
        ph.started = tick.now
        new = loop.phases[ph.index].id
        return [PhaseChange(ended, ph.index, False, f"{ended} done: advancing to {new}"),
                *restart_loop_agents(tick, f"phase {new}")]
    ph.complete, ph.completed_at = True, tick.now
    actions: list[Action] = [PhaseChange(ended, ph.index, True, f"{ended} done: SEQUENCE-COMPLETE")]
    if loop.on_complete is not None and ph.on_complete_phases < len(loop.phases):
        ph.on_complete, ph.on_complete_phases = "pending", len(loop.phases)
    return actions
