"""What a (re)start resets: the one place that says it, for every policy that starts an agent."""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.truth.model import HookState
from agent_orchestrator.watchdog.policies.outbox import after_start
from agent_orchestrator.watchdog.state import AgentState


def on_start(st: AgentState, now: float, *, window: float, count: bool = True, clear_holds: bool = False) -> AgentState:
    """The agent's state once a start is decided at `now` (epoch seconds).

    Every start gives a fresh idle clock, forgets the old session's screen, its hook events (the
    event file is read on from where it is), its verdict and its dialog answers; of its outbox,
    what was meant for the old session (a nudge, a probe, a wake) goes and the rest waits for the
    new one (`outbox.after_start`).
    `count` adds the start to the restart history inside `window` seconds (heal, stall reboots,
    task wakes: what the restart policy limits); a phase advance does not count. `clear_holds`
    (`agents restart NAME`) also forgets the restart history, the backoff, a needs-human hold and
    a usage-limit window.
    """
    restarts = (*tuple(t for t in st.restarts if now - t < window), now) if count else st.restarts
    st = after_start(st)  # while the old session's hook events still say what it accepted
    st = replace(st, last_start=now, idle_since=now, facts=None, last_activity=None, dialogs_answered=0,
                 restarts=restarts, hooks=HookState(offset=st.hooks.offset), truth=None)
    if clear_holds:
        st = replace(st, needs_human="", restarts=(), failed_starts=0, next_restart_at=0.0, limit=None)
    return st
