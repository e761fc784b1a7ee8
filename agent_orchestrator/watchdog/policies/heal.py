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

from agent_orchestrator.watchdog.model import Action, AgentView, Note, Start, Tick


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


def record_start(tick: Tick, name: str) -> None:
    """Bookkeeping for a (re)start decided now: restart history, fresh idle clock, no stale facts."""
    st = tick.agent_state(name)
    now = tick.now
    window = tick.config.watchdog.restart_window
    st.restarts = [t for t in st.restarts if now - t < window] + [now]
    st.last_start = now
    st.idle_since = now
    st.facts = None
    st.last_activity = None
    st.dialogs_answered = 0
    st.pending = []  # messages for the old session (a nudge, a ping) do not fit the new one


def allow_restart(tick: Tick, name: str, reason: str, run_seconds: float | None) -> list[Action] | None:
    """Apply the restart policy; returns blocking actions (needs-human / backoff notes) or None
    when the restart may go ahead now."""
    wd = tick.config.watchdog
    st = tick.agent_state(name)
    now = tick.now
    if st.needs_human:
        return []
    lived = run_seconds if run_seconds is not None else (now - st.last_start if st.last_start else None)
    if st.next_restart_at <= 0 and st.last_start is not None and lived is not None:
        # First look at this death: a failed start, or a run that got going?
        st.failed_starts = st.failed_starts + 1 if lived < wd.start_secs else 0
        if st.failed_starts:
            delay = min(wd.restart_backoff * 2 ** (st.failed_starts - 1), wd.restart_backoff_max)
            st.next_restart_at = now + delay
    recent = [t for t in st.restarts if now - t < wd.restart_window]
    if len(recent) >= wd.restart_burst:
        st.needs_human = f"{len(recent)} restarts within {wd.restart_window:g}s (last: {reason})"
        return [Note(name, "needs-human", st.needs_human, {"restarts": len(recent)})]
    if st.next_restart_at > now:
        return []
    st.next_restart_at = 0.0
    return None


def heal(tick: Tick) -> list[Action]:
    """Restart actions for every healable agent that needs one (heavy ticks only)."""
    if not tick.heavy:
        return []
    actions: list[Action] = []
    for name, view in tick.views.items():
        agent = view.agent
        st = tick.agent_state(name)
        if not agent.enabled or agent.watch not in ("heal", "heal+stall") or agent.kind == "task":
            continue
        if st.paused or st.limit is not None:
            continue
        if agent.kind == "loop" and tick.phase.complete:
            continue  # the sequence is over: loop agents are left as they are
        found = heal_reason(view)
        if found is None:
            if st.failed_starts and st.last_start and tick.now - st.last_start >= tick.config.watchdog.start_secs:
                st.failed_starts = 0  # it has stayed up: the start counts as good
            continue
        reason, fatal = found
        blocked = allow_restart(tick, name, reason, view.run_seconds)
        if blocked is not None:
            actions += blocked
            continue
        record_start(tick, name)
        resume = agent.resume and view.backend.supports_resume and not fatal
        actions.append(Start(name, reason, resume=resume, action="heal"))
    actions += _heal_services(tick)
    return actions


def _heal_services(tick: Tick) -> list[Action]:
    actions: list[Action] = []
    for service in tick.config.services:
        if not service.enabled or service.watch != "heal" or service.name not in tick.services:
            continue
        if tick.agent_state(service.name).paused:
            continue  # stopped by hand (`agents down NAME`)
        pane = tick.services[service.name]
        if pane is not None and not pane.dead:
            continue
        reason = "session gone" if pane is None else f"exited with status {pane.dead_status}"
        blocked = allow_restart(tick, service.name, reason, None)
        if blocked is not None:
            actions += blocked
            continue
        record_start(tick, service.name)
        actions.append(Start(service.name, reason, action="heal"))
    return actions
