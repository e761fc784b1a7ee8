"""Stall and DONE-nudge (signal tick, agents with watch = "heal+stall").

An agent is stalled when its screen has not changed for `stall_idle` seconds (the idle clock
starts from tmux's own `#{window_activity}`, refined by a content hash, so a restarted watchdog
sees the true idle time) and it is not working — unless its last line is a current
`WAITING-UNTIL:` marker (honoured until that time + `stall_grace`). A screen that claims to be
busy but has not changed for `hung_idle` seconds is a hung turn and counts as stalled too.

A stalled loop agent whose phase is not done gets one DONE-nudge per phase (when `[loop].done_nudge`);
a fresh idle window follows, and only if it stays stalled is it rebooted with its kickoff. A hung
turn is rebooted without a nudge: it could not read one.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, AgentView, Send, Start, Step, Tick
from agent_orchestrator.watchdog.policies.heal import allow_restart
from agent_orchestrator.watchdog.policies.starts import on_start


def nudge_text(tick: Tick) -> str:
    """The DONE-nudge: names the phase, its status file and the done marker."""
    phase = tick.phase
    return (
        f"Watchdog: you have been idle in phase {phase.phase_id}, which is not marked done. "
        f"Pull pending reviews and inbox messages (git pull), then carry on with the plan. "
        f"Write the line `{phase.done_marker}` into {phase.status_file} (commit and push) ONLY if every "
        f"Definition-of-Done item has a fresh PASS review and no FAIL or veto stands. "
        f"If you are waiting on purpose, end your reply with a line `WAITING-UNTIL: <ISO-8601 UTC time>`."
    )


def idle_seconds(tick: Tick, view: AgentView) -> float | None:
    """Seconds since the agent's screen last changed (None when unknown)."""
    since = tick.agent_state(view.name).idle_since
    if since is None and view.pane is not None:
        since = view.pane.window_activity
    return None if since is None else max(0.0, tick.now - since)


def stall_reason(tick: Tick, view: AgentView) -> str | None:
    """Why the agent counts as stalled now, or None."""
    idle = idle_seconds(tick, view)
    if idle is None:
        return None
    backend = view.backend
    facts = view.facts
    if facts is not None and facts.waiting_until is not None and tick.now < facts.waiting_until + tick.config.watchdog.stall_grace:
        return None
    if facts is not None and facts.dialog:
        return None  # a dialog is the dialogs policy's business
    if view.busy:
        if idle >= backend.hung_idle:
            return f"busy screen unchanged for {idle:.0f}s (hung turn)"
        return None
    if idle >= backend.stall_idle:
        missed = ""
        if facts is not None and facts.waiting_until is not None:
            missed = " (its WAITING-UNTIL time has passed)"
        return f"idle for {idle:.0f}s{missed}"
    return None


def stall(tick: Tick) -> Step:
    """Nudge or reboot every stalled agent (signal ticks)."""
    state = tick.state
    actions: list[Action] = []
    loop = tick.config.loop
    for name, view in tick.views.items():
        agent = view.agent
        st = state.agent(name)
        if not agent.enabled or agent.watch != "heal+stall" or not view.alive:
            continue
        if st.paused or st.limit is not None or st.needs_human:
            continue
        if agent.kind == "loop" and tick.phase.complete:
            continue
        reason = stall_reason(tick, view)
        if reason is None:
            continue
        phase = tick.phase
        # A hung turn cannot read a nudge (Claude Code queues it behind the turn, which never
        # ends): it goes straight to the reboot and keeps the phase's nudge for a real idle.
        hung = view.busy
        if (agent.kind == "loop" and loop is not None and loop.done_nudge and phase.phase_id is not None
                and not phase.done and st.nudged_phase != phase.phase_id and not hung):
            # A fresh idle window follows the nudge.
            state = state.with_agent(name, replace(st, nudged_phase=phase.phase_id, idle_since=tick.now))
            actions.append(Send(name, nudge_text(tick), "nudge", f"stalled: {reason}"))
            continue
        st, blocked = allow_restart(tick, st, name, f"stalled: {reason}", None)
        if blocked is not None:
            state = state.with_agent(name, st)
            actions += blocked
            continue
        state = state.with_agent(name, on_start(st, tick.now, window=tick.config.watchdog.restart_window))
        actions.append(Start(name, f"stalled: {reason}", kind="reboot"))
    return Step(state, tuple(actions))
