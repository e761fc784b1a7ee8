"""Inspecting and steering the phase machine by hand (`agents phase show|set|advance|reset`).

A running watchdog owns its state: a change is handed to it as a request (it applies it on its
next tick and restarts the loop agents). With no watchdog running, the change is written to the
state directly under the project lock, and loop agents that are up are restarted here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import Config
from agent_orchestrator.handoff.gitrepo import GitError, GitRepo
from agent_orchestrator.handoff.markers import has_done_marker
from agent_orchestrator.handoff.mirror import mirror_path
from agent_orchestrator.runtime.project import Outcome, Project
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.lock import LockHeld, ProjectLock, lock_holder
from agent_orchestrator.watchdog.policies.phases import set_phase
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchdog.state import load_state, save_state, sequence_marker


class PhaseError(ValueError):
    """A phase verb that cannot be carried out (no [loop], unknown id, past the last phase)."""


@dataclass(frozen=True)
class PhaseInfo:
    """What `phase show` prints. Times are epoch seconds; `done` None when it cannot be read;
    `in_phase_s` stops counting when the sequence completes."""

    phase_id: str
    index: int
    total: int
    plan: str
    status_file: str
    done: bool | None
    started: float | None
    in_phase_s: float | None
    complete: bool
    on_complete: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts."""
        return dict(self.__dict__)


def phase_info(config: Config, now: float | None = None) -> PhaseInfo:
    """The current phase, reading its pushed status file (as last fetched) for `done`."""
    loop = config.loop
    if loop is None or not loop.phases:
        raise PhaseError(f"{config.path}: no [loop] phases are configured")
    now = time.time() if now is None else now
    state = load_state(Path(config.defaults.log_dir))
    ph = state.phase
    index = min(ph.index, len(loop.phases) - 1)
    phase = loop.phases[index]
    done: bool | None = None
    if loop.repo is not None:
        mirror = mirror_path(Path(config.defaults.log_dir))
        try:
            # As last fetched by the watchdog (its mirror; the clone's own view before it ran).
            text = GitRepo(mirror if (mirror / "HEAD").exists() else Path(loop.repo)).show(phase.status)
        except GitError:
            text = None  # not a repo (yet): unknown rather than an error
        done = None if text is None and not (Path(loop.repo) / ".git").exists() else (text is not None and has_done_marker(text, loop.done_marker))
    # After SEQUENCE-COMPLETE the clock stops at the completion (the marker's time for a state
    # written before completed_at was kept).
    end = now
    if ph.complete:
        marker = sequence_marker(Path(config.defaults.log_dir))
        end = ph.completed_at if ph.completed_at is not None else (marker.stat().st_mtime if marker.exists() else now)
    return PhaseInfo(phase.id, index, len(loop.phases), str(phase.plan), phase.status, done, ph.started,
                     max(0.0, end - ph.started) if ph.started else None, ph.complete, ph.on_complete)


def target_index(config: Config, verb: str, phase_id: str | None = None) -> int:
    """The index `set ID`, `advance` or `reset` moves to. Raises PhaseError."""
    loop = config.loop
    if loop is None or not loop.phases:
        raise PhaseError(f"{config.path}: no [loop] phases are configured")
    ids = [p.id for p in loop.phases]
    if verb == "reset":
        return 0
    if verb == "set":
        if phase_id not in ids:
            raise PhaseError(f"unknown phase {phase_id!r} (phases: {', '.join(ids)})")
        return ids.index(phase_id)
    current = load_state(Path(config.defaults.log_dir)).phase.index
    if current + 1 >= len(ids):
        raise PhaseError(f"phase {ids[min(current, len(ids) - 1)]} is the last one; nothing to advance to")
    return current + 1


def running_loop_agents(project: Project) -> list[str]:
    """Names of the loop agents whose sessions are up."""
    panes = project.runtime.observe()
    return [a.name for a in project.config.agents if a.kind == "loop" and a.session in panes and not panes[a.session].dead]


def apply(project: Project, verb: str, index: int) -> tuple[str, list[Outcome]]:
    """Move the machine to `index`; returns a sentence saying how, and any restarts done here."""
    log_dir = project.log_dir
    if lock_holder(log_dir) is not None:
        request_watchdog(log_dir, "phase", "", index=index, reset=verb == "reset", why=verb)
        return "handed to the running watchdog; it restarts the loop agents on its next tick", []
    lock = ProjectLock(log_dir)
    try:
        lock.acquire()
    except LockHeld:  # a watchdog started just now: hand it the change instead
        request_watchdog(log_dir, "phase", "", index=index, reset=verb == "reset", why=verb)
        return "handed to the watchdog that just started; it restarts the loop agents on its next tick", []
    try:
        state = load_state(log_dir)
        state = set_phase(state, index, time.time(), reset=verb == "reset")
        save_state(log_dir, state)
        sequence_marker(log_dir).unlink(missing_ok=True)
    finally:
        lock.release()
    phase_id = project.config.loop.phases[index].id  # type: ignore[union-attr]
    EventLog(log_dir).emit("", "phase-set", f"phase {verb} by hand (no watchdog running)", index=index, phase=phase_id)
    outcomes = []
    panes = project.runtime.observe()
    for name in running_loop_agents(project):
        unit = project.config.agent(name)
        assert unit is not None
        outcomes.append(project.start(unit, panes.get(unit.session or ""), index))
    return "written to the state (no watchdog running)", outcomes
