"""Rebuilding the watchdog's state from what is durable, when its state file is lost or unusable.

A fresh state would start the phase machine at p1 again: re-advance through finished phases and
run on_complete a second time (seen with `watchdog.json` lost after SEQUENCE-COMPLETE). So the
phase machine is rebuilt from what outlives the state file: the SEQUENCE-COMPLETE marker (the
sequence is over, on_complete already ran) and, before it, the event log (`phase-advance`,
`phase-set`, `phase-resumed`, `sequence-complete`, `on-complete` events). Everything else — idle
clocks, screens, handoff heads — is observed again from the world on the next tick (the handoff's
first-sight rule re-reads what was pushed since the run started: `run_started` comes back from
the first event of the log).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import PhaseState, WatchdogState, sequence_marker


def rebuild_state(config: Config, log_dir: Path, events: Iterable[Mapping[str, Any]] | None = None) -> tuple[WatchdogState, str]:
    """(a state rebuilt from the marker and the event log, a one-line account of what it found).

    `events` defaults to `<log_dir>/events.jsonl`. Returns a fresh state and "" when nothing
    durable says the run had started.
    """
    loop = config.loop
    marker = sequence_marker(log_dir)
    seen = list(read_events(log_dir) if events is None else events)
    state = WatchdogState()
    starts = [float(e["ts"]) for e in seen if isinstance(e.get("ts"), (int, float)) and e.get("action") == "watchdog-start"]
    if starts:
        state = replace(state, run_started=min(starts))
    if loop is None or not loop.phases:
        return state, ("" if not starts else "no phase machine: observed again from the world")
    total = len(loop.phases)
    index, complete, started, completed_at, on_complete = 0, False, None, None, ""
    for e in seen:
        action, ts = e.get("action"), e.get("ts")
        when = float(ts) if isinstance(ts, (int, float)) else None
        if action in ("phase-advance", "phase-set") and isinstance(e.get("index"), int):
            index, complete, started, completed_at = e["index"], False, when, None
            if action == "phase-set":
                on_complete = ""
        elif action == "phase-resumed":
            index, complete, started, completed_at = min(index + 1, total - 1), False, when, None
        elif action == "sequence-complete":
            complete, completed_at, on_complete = True, when, "pending" if loop.on_complete is not None else ""
        elif action in ("on-complete", "on-complete-confirmed") and complete:
            on_complete = "started"
    if marker.exists():
        # The marker outranks a torn or truncated log: the sequence is over. Whether on_complete
        # ran, the log says; without a log saying it did not, it is taken as run (never twice).
        logged = complete
        complete, index = True, total - 1
        completed_at = completed_at or marker.stat().st_mtime
        if loop.on_complete is None:
            on_complete = ""
        elif not logged:
            on_complete = "started"
    index = max(0, min(index, total - 1))
    phase = PhaseState(index=index, started=started, complete=complete, completed_at=completed_at, on_complete=on_complete,
                       on_complete_phases=total if complete and on_complete == "started" else 0)
    state = replace(state, phase=phase)
    what = f"phase {loop.phases[index].id} ({index + 1}/{total})" + (", sequence complete" if complete else "")
    source = "the SEQUENCE-COMPLETE marker" if marker.exists() else "the event log" if seen else ""
    return state, (f"{what}, from {source}" if source else "")
