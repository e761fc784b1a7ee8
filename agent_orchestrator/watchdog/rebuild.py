"""Rebuilding the watchdog's state from what is durable, when its state file is lost or unusable.

A fresh state would start the phase machine at p1 again: re-advance through finished phases and
run on_complete a second time (seen with `watchdog.json` lost after SEQUENCE-COMPLETE). So the
phase machine is rebuilt from what outlives the state file: the SEQUENCE-COMPLETE marker (the
sequence is over) and, before it, the event log (`phase-advance`, `phase-set`, `phase-resumed`,
`sequence-complete`, `on-complete` events). What the lost state still owed is rebuilt too:

- the starts of a phase change not yet seen done (the loop agents left in their old sessions,
  the on_complete task): the change's event (and the marker) carry each agent's launcher pid
  from before it, so they come back as start intents that the next tick confirms — the pid
  moved on — or carries out (`policies.intents.reconcile`, `policies.phases.on_complete`);
- the pings already delivered: a fresh handoff state re-reads what was pushed since the run (or,
  in a later phase, the phase) started, and skips, per agent, the commits the event log
  (`commits` of ping events) or the agent CLI's own UserPromptSubmit hook events show it was
  told about (`HandoffState.announced`).

Everything else — idle clocks, screens, the outbox's queued messages — is observed or decided
again from the world on the next tick (`run_started` comes back from the first event of the log).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_orchestrator.agents.hooks import hook_log
from agent_orchestrator.config.schema import Config
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import HandoffState, Intent, PhaseState, WatchdogState, sequence_marker

# The marker's second line: the on_complete task's launcher pid when the sequence completed
# (written by the executor; "None" when it was not running).
ON_COMPLETE_PID = "on_complete launcher pid before: "
_SHORT_SHA = re.compile(r"\b[0-9a-f]{8}\b")
_PHASE_CHANGES = ("phase-advance", "phase-set", "phase-resumed")


def rebuild_state(config: Config, log_dir: Path, events: Iterable[Mapping[str, Any]] | None = None) -> tuple[WatchdogState, str]:
    """(a state rebuilt from the marker, the event log and the agents' hook events, a one-line
    account of what it found).

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
    index, complete, started, completed_at, on_complete = 0, False, state.run_started, None, ""
    changed: Mapping[str, Any] | None = None  # the last phase change, while its starts may be owed
    completion: tuple[bool, int | None] = (False, None)  # (the on_complete task's pid was recorded, that pid)
    for e in seen:
        action, ts = e.get("action"), e.get("ts")
        when = float(ts) if isinstance(ts, (int, float)) else None
        if action in ("phase-advance", "phase-set") and isinstance(e.get("index"), int):
            index, complete, started, completed_at, changed = e["index"], False, when, None, e
            if action == "phase-set":
                on_complete = ""
        elif action == "phase-resumed":
            index, complete, started, completed_at, changed = min(index + 1, total - 1), False, when, None, e
        elif action == "sequence-complete":
            complete, completed_at, on_complete, changed = True, when, "pending" if loop.on_complete is not None else "", None
            pids = e.get("pids")
            completion = (isinstance(pids, dict), _pid_of(pids, loop.on_complete.run if loop.on_complete is not None else ""))
        elif action in ("on-complete", "on-complete-confirmed") and complete:
            on_complete = "started"
    if marker.exists():
        # The marker outranks a torn or truncated log: the sequence is over. Whether on_complete
        # ran, the log says; without a log saying so, the pid the marker recorded decides it
        # (checked against the task's launcher by the phase machine); without either, it is
        # taken as run (never twice).
        logged = complete
        complete, index, changed = True, total - 1, None
        completed_at = completed_at or marker.stat().st_mtime
        if loop.on_complete is None:
            on_complete = ""
        elif not logged:
            completion = _marker_pid(marker)
            on_complete = "pending" if completion[0] else "started"
    index = max(0, min(index, total - 1))
    phase = PhaseState(index=index, started=started, complete=complete, completed_at=completed_at, on_complete=on_complete,
                       on_complete_phases=total if complete and on_complete else 0)
    if on_complete == "pending" and completion[0]:
        # The start may have gone out before the state was lost: "starting" with the pid from
        # before it makes the phase machine confirm a moved pid instead of starting it again.
        phase = replace(phase, on_complete="starting", on_complete_prev_pid=completion[1])
    state = replace(state, phase=phase, intents=_owed_starts(config, changed, seen),
                    handoff=HandoffState(announced=_announced(config, log_dir, seen)))
    what = f"phase {loop.phases[index].id} ({index + 1}/{total})" + (", sequence complete" if complete else "")
    if state.intents:
        what += f", restart of {', '.join(i.agent for i in state.intents)} owed"
    source = "the SEQUENCE-COMPLETE marker" if marker.exists() else "the event log" if seen else ""
    return state, (f"{what}, from {source}" if source else "")


def _pid_of(pids: Any, name: str) -> int | None:
    value = pids.get(name) if isinstance(pids, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _marker_pid(marker: Path) -> tuple[bool, int | None]:
    """(whether the marker recorded the on_complete task's pid, that pid — None when it was not running)."""
    try:
        lines = marker.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False, None
    for line in lines[1:]:
        if line.startswith(ON_COMPLETE_PID):
            value = line[len(ON_COMPLETE_PID):].strip()
            if value == "None":
                return True, None
            if value.isdigit():
                return True, int(value)
    return False, None


def _owed_starts(config: Config, changed: Mapping[str, Any] | None, seen: list[Mapping[str, Any]]) -> tuple[Intent, ...]:
    """Start intents for the loop agents the last phase change restarts and whose start the log
    does not show (an `advance` or `start-confirmed` event after it): each with the launcher pid
    from before the change (the event's `pids`), so that a start which went out unlogged is
    confirmed rather than repeated. Nothing for an event without pids (an older log)."""
    if changed is None or not isinstance(changed.get("pids"), dict):
        return ()
    at = float(changed.get("ts", 0.0))
    after = [e for e in seen if float(e.get("ts", 0.0) or 0.0) >= at]
    done = {e.get("agent") for e in after if e.get("action") in ("advance", "start-confirmed")}
    resume = bool(config.loop and config.loop.resume)
    reason = str(changed.get("reason") or "phase change")
    return tuple(Intent(f"{name}-advance-rebuilt-{at:.3f}", name, "advance", f"{reason} (rebuilt: not seen done)", at,
                        _pid_of(changed["pids"], name), None, resume)
                 for name in changed["pids"] if name not in done and config.agent(name) is not None)


def _announced(config: Config, log_dir: Path, seen: list[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Per agent, the short shas of the commits it was pinged for: from the ping events'
    `commits`, and from the UserPromptSubmit events its CLI recorded (`<log_dir>/hooks/`) for
    watchdog messages — the CLI's own word, written even when the watchdog died before its event."""
    found: dict[str, set[str]] = {}
    for e in seen:
        commits = e.get("commits")
        if e.get("action") in ("ping", "reannounce") and isinstance(commits, list):
            found.setdefault(str(e.get("agent") or ""), set()).update(str(c) for c in commits)
    for agent in config.agents:
        try:
            lines = hook_log(Path(log_dir), agent.name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            data = record.get("data") if isinstance(record, dict) else None
            prompt = data.get("prompt") if isinstance(data, dict) and record.get("event") == "UserPromptSubmit" else None
            if isinstance(prompt, str) and prompt.lstrip().startswith("Watchdog:"):
                found.setdefault(agent.name, set()).update(_SHORT_SHA.findall(prompt))
    return {agent: tuple(sorted(shas)) for agent, shas in found.items() if shas}
