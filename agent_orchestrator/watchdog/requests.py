"""Requests from the CLI to a running watchdog, as files it takes on its next tick.

The watchdog owns its state file; verbs never write it. They drop a request instead
(`<log_dir>/state/requests/<ts>-<agent>-<action>.json`), which works whether or not a watchdog
runs right now: the next one to tick applies it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.state import load_state


def request_watchdog(log_dir: Path, action: str, agent: str, **extra: object) -> Path:
    """Queue `action` ("clear", "pause", "resume", "phase") for `agent` with `extra` fields;
    returns the request file."""
    folder = ensure_dir(Path(log_dir) / "state" / "requests", PRIVATE)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".req-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"action": action, "agent": agent, "ts": time.time(), **extra}, fh)
    path = folder / f"{time.time_ns()}-{agent or 'project'}-{action}.json"
    os.replace(tmp, path)
    return path


def current_phase_index(project: Project) -> int:
    """The phase index the watchdog's state records (0 without one)."""
    return load_state(project.log_dir).phase.index if (project.log_dir / "state" / "watchdog.json").exists() else 0


def paused_after_requests(log_dir: Path) -> set[str]:
    """Agents that will be paused once the watchdog has applied everything queued: paused in its
    saved state, then each pause/resume request still waiting (not in its `requests_done`),
    oldest first — what `up` must resume whatever the watchdog's tick timing (`down NAME` then
    `up NAME` before any tick leaves a pause waiting that no saved state shows yet)."""
    from agent_orchestrator.watchdog.observe import read_requests

    state = load_state(log_dir)
    paused = {name for name, st in state.agents.items() if st.paused}
    done = set(state.requests_done)
    for request in read_requests(log_dir):
        if request.id in done or request.action not in ("pause", "resume"):
            continue
        if request.action == "pause":
            paused.add(request.agent)
        else:
            paused.discard(request.agent)
    return paused
