"""Heal (heavy tick): restart agents whose session is gone, whose process died or exited to a
shell, or whose screen shows an unrecoverable error — under a supervisord/systemd-like restart
policy so a crash loop ends in `needs-human` instead of a restart storm.

- A run that lived less than `start_secs` is a failed start; consecutive failed starts back off
  `restart_backoff`, doubling, capped at `restart_backoff_max`.
- More than `restart_burst` restarts within `restart_window` → `needs-human`: no more restarts
  until `agents restart NAME` clears it.
- Never inside a usage-limit window; never for paused agents; task agents are one-shot and are
  not healed (their wakes re-run them).
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, AgentView, Note, Start, Step, Tick
from agent_orchestrator.watchdog.policies.starts import on_start
from agent_orchestrator.watchdog.state import AgentState, WatchdogState


def heal_reason(view: AgentView) -> tuple[str, bool] | None:
    """(why the agent needs a restart, whether its screen showed a fatal error), or None."""
    pane = view.pane
    if pane is None:
        return "session gone", False
    if pane.dead:
        code = pane.dead_status
        return (f"exited with status {code}" if code is not None else "exited"), False
    if pane.exited_to_shell(view.backend.process_name):
        return f"exited to a shell ({pane.current_command})", False
    if view.facts is not None and view.facts.fatal:
        return "unrecoverable error on screen", True
    return None


def allow_restart(tick: Tick, st: AgentState, name: str, reason: str, run_seconds: float | None) -> tuple[AgentState, tuple[Action, ...] | None]:
    """Apply the restart policy to one agent about to be restarted.

    Returns its new state and either the blocking actions (a needs-human note, or nothing while
    a backoff runs) or None when the restart may go ahead now.
    """
    wd = tick.config.watchdog
    now = tick.now
    if st.needs_human:
        return st, ()
    lived = run_seconds if run_seconds is not None else (now - st.last_start if st.last_start else None)
    if st.next_restart_at <= 0 and st.last_start is not None and lived is not None:
        # First look at this death: a failed start, or a run that got going?
        failed = st.failed_starts + 1 if lived < wd.start_secs else 0
        st = replace(st, failed_starts=failed)
        if failed:
            st = replace(st, next_restart_at=now + min(wd.restart_backoff * 2 ** (failed - 1), wd.restart_backoff_max))
    recent = [t for t in st.restarts if now - t < wd.restart_window]
    if len(recent) >= wd.restart_burst:
        why = f"{len(recent)} restarts within {wd.restart_window:g}s (last: {reason})"
        return replace(st, needs_human=why), (Note(name, "needs-human", why, {"restarts": len(recent)}),)
    if st.next_restart_at > now:
        return st, ()
    return replace(st, next_restart_at=0.0), None


def heal(tick: Tick) -> Step:
    """Restart actions for every healable agent and service that needs one (heavy ticks only)."""
    if not tick.heavy:
        return Step(tick.state)
    state = tick.state
    actions: list[Action] = []
    for name, view in tick.views.items():
        agent = view.agent
        st = state.agent(name)
        if not agent.enabled or agent.watch not in ("heal", "heal+stall") or agent.kind == "task":
            continue
        if st.paused or st.limit is not None:
            continue
        if agent.kind == "loop" and tick.phase.complete:
            continue  # the sequence is over: loop agents are left as they are
        found = heal_reason(view)
        if found is None:
            if st.failed_starts and st.last_start and tick.now - st.last_start >= tick.config.watchdog.start_secs:
                state = state.with_agent(name, replace(st, failed_starts=0))  # it stayed up: a good start
            continue
        reason, fatal = found
        st, blocked = allow_restart(tick, st, name, reason, view.run_seconds)
        if blocked is not None:
            state = state.with_agent(name, st)
            actions += blocked
            continue
        state = state.with_agent(name, on_start(st, tick.now, window=tick.config.watchdog.restart_window))
        resume = agent.resume and view.backend.supports_resume and not fatal
        actions.append(Start(name, reason, resume=resume, kind="heal"))
    state, service_actions = _heal_services(tick, state)
    return Step(state, (*actions, *service_actions))


def _heal_services(tick: Tick, state: WatchdogState) -> tuple[WatchdogState, list[Action]]:
    actions: list[Action] = []
    for service in tick.config.services:
        if not service.enabled or service.watch != "heal" or service.name not in tick.services:
            continue
        st = state.agent(service.name)
        if st.paused:
            continue  # stopped by hand (`agents down NAME`)
        pane = tick.services[service.name]
        if pane is not None and not pane.dead:
            continue
        reason = "session gone" if pane is None else f"exited with status {pane.dead_status}"
        st, blocked = allow_restart(tick, st, service.name, reason, None)
        if blocked is not None:
            state = state.with_agent(service.name, st)
            actions += blocked
            continue
        state = state.with_agent(service.name, on_start(st, tick.now, window=tick.config.watchdog.restart_window))
        actions.append(Start(service.name, reason, kind="heal"))
    return state, actions
