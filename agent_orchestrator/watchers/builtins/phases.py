"""Phases watcher: the current phase open past the window with no commits.

Drain: the phase the watchdog's state says is current (not once the sequence is complete), open
since the state's `phase.started`. Activity fold: the latest commit on origin/main of
`[loop].repo` counts as progress, so a phase whose agents keep committing is never flagged, and
each new commit starts a new episode.
"""

from __future__ import annotations

from agent_orchestrator.watchdog.state import WatchdogState
from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, WatcherContext, declare
from agent_orchestrator.watchers.sources import handoff_repo, refresh, watchdog_state

DECLARATION = declare("phases", "phase-open", "flag-phase")


def open_phase(phase_ids: list[str], state: WatchdogState, latest_commit_at: float | None) -> list[Entity]:
    """The current phase as an entity (pure), folded with the latest commit time; [] when there
    is no phase, the watchdog has not started one, or the sequence is complete."""
    ph = state.phase
    started = ph.started
    if not phase_ids or ph.complete or started is None:
        return []
    index = min(max(ph.index, 0), len(phase_ids) - 1)
    phase_id = phase_ids[index]
    return [Entity(id=f"phase:{phase_id}", state="open", changed_at=float(started), activity_at=latest_commit_at,
                   summary=f"phase {phase_id} ({index + 1}/{len(phase_ids)}) is open with no commit on origin/main",
                   inputs={"phase": phase_id, "index": index, "latest_commit_at": latest_commit_at})]


def make(ctx: WatcherContext) -> FlagWatcher:
    """The phases watcher of the project in `ctx`."""

    def drain(now: float) -> list[Entity]:
        loop = ctx.config.loop
        if loop is None or not loop.phases:
            return []
        latest = None
        repo = handoff_repo(ctx.config)
        if repo is not None:
            refresh(repo, ctx.log_dir)
            latest = repo.last_commit_ts()
        return open_phase([p.id for p in loop.phases], watchdog_state(ctx.log_dir), latest)

    return DECLARATION.watcher(drain)
