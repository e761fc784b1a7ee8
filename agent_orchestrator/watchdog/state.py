"""The watchdog's persisted state: `<log_dir>/state/watchdog.json`, written atomically.

Everything a restarted watchdog must remember lives here: idle clocks and content hashes, the
last screen facts, nudge flags, usage-limit windows, restart history, wake timers, messages
waiting for redelivery, and the phase index. All times are epoch seconds (wall clock), because
they are compared with tmux's `#{window_activity}` and must survive a restart of the process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


@dataclass
class ScreenFacts:
    """What one capture of an agent's pane showed (derived by `watchdog.facts`).

    `state` is a `screen.PaneState` value; `active`: working right now; `waiting_until`: epoch of
    a current `WAITING-UNTIL:` marker; `limit_banner`/`limit_reset`: a usage-limit banner and its
    parsed reset (epoch, None if unparseable); `fatal`: an unrecoverable error is on screen;
    `dialog`/`dialog_keys`: a startup dialog and the keys that answer it; `input`: the text in the
    input line; `captured_at`: epoch of the capture.
    """

    hash: str = ""
    state: str = ""
    active: bool = False
    waiting_until: float | None = None
    limit_banner: str | None = None
    limit_reset: float | None = None
    fatal: bool = False
    dialog: str | None = None
    dialog_keys: list[str] = field(default_factory=list)
    input: str = ""
    captured_at: float = 0.0


@dataclass
class LimitWindow:
    """A usage limit the agent is waiting out: quiet until `until` (epoch), then one probe."""

    banner: str
    reset_at: float | None
    until: float
    detected_at: float
    probe_sent_at: float | None = None
    probe_text: str = ""


@dataclass
class Pending:
    """A message whose delivery failed; retried on later ticks (never silently dropped)."""

    text: str
    kind: str
    reason: str
    first_ts: float
    attempts: int = 1
    next_try: float = 0.0
    last_error: str = ""


@dataclass
class AgentState:
    """Per-agent bookkeeping (epoch seconds throughout)."""

    idle_since: float | None = None
    last_activity: float | None = None
    facts: ScreenFacts | None = None
    last_start: float | None = None
    restarts: list[float] = field(default_factory=list)
    failed_starts: int = 0
    next_restart_at: float = 0.0
    needs_human: str = ""
    nudged_phase: str | None = None
    limit: LimitWindow | None = None
    next_wake_at: float | None = None
    pending: list[Pending] = field(default_factory=list)
    dialogs_answered: int = 0
    paused: bool = False
    last_limit_banner: str = ""


@dataclass
class PhaseState:
    """Where the loop is: `index` into `[loop].phases`, when it started, whether it completed.

    `on_complete` is "" (not due), "pending" (decided and checkpointed), "starting" (the start
    is going out; `on_complete_prev_pid` is the task's launcher pid before it) or "started";
    `on_complete_phases` is how many phases the sequence had when it last ran, so an
    appended-and-completed sequence runs it again but a restarted watchdog never does twice.
    `done_seen_at` is when the done marker was first seen while loop agents were still busy.
    """

    index: int = 0
    started: float | None = None
    complete: bool = False
    completed_at: float | None = None
    on_complete: str = ""
    on_complete_phases: int = 0
    on_complete_prev_pid: int | None = None
    done_seen_at: float | None = None


@dataclass
class HandoffState:
    """Git handoff bookkeeping: the last `origin/main` head seen, inbox blob ids as pushed, the
    gate in flight (label of the latest claim and when it started), and whether the current
    phase's status file carried the done marker at `checked_head`."""

    last_seen: str | None = None
    inbox: dict[str, str | None] = field(default_factory=dict)
    gate: str | None = None
    gate_started: float | None = None
    checked_head: str | None = None
    checked_phase: int | None = None
    status_done: bool = False
    fetch_error: str = ""


@dataclass
class WatchdogState:
    """The whole persisted state."""

    version: int = VERSION
    agents: dict[str, AgentState] = field(default_factory=dict)
    phase: PhaseState = field(default_factory=PhaseState)
    handoff: HandoffState = field(default_factory=HandoffState)
    last_heavy: float = 0.0
    config_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def agent(self, name: str) -> AgentState:
        """The agent's state, created on first use."""
        return self.agents.setdefault(name, AgentState())


def _from_dict(cls: type, data: Any) -> Any:
    """Rebuild a state dataclass from JSON, ignoring unknown keys and keeping defaults for missing ones."""
    if not isinstance(data, dict):
        return cls()
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        kwargs[f.name] = _convert(f.type, value)
    return cls(**kwargs)


_NESTED = {"ScreenFacts | None": ScreenFacts, "LimitWindow | None": LimitWindow, "PhaseState": PhaseState,
           "HandoffState": HandoffState}


def _convert(tp: Any, value: Any) -> Any:
    tp = str(tp)
    if tp in _NESTED:
        return None if value is None else _from_dict(_NESTED[tp], value)
    if tp == "dict[str, AgentState]":
        return {str(k): _from_dict(AgentState, v) for k, v in (value or {}).items()}
    if tp == "list[Pending]":
        return [_from_dict(Pending, v) for v in (value or [])]
    return value


def sequence_marker(log_dir: Path) -> Path:
    """`<log_dir>/SEQUENCE-COMPLETE`: written once when the sequence completes, removed when it
    resumes (phases appended, or moved by hand), so it never contradicts the state."""
    return Path(log_dir) / "SEQUENCE-COMPLETE"


def state_path(log_dir: Path) -> Path:
    """Where the watchdog state lives."""
    return Path(log_dir) / "state" / "watchdog.json"


def load_state(log_dir: Path) -> WatchdogState:
    """The saved state, or a fresh one when there is none or it cannot be read.

    An unreadable file is kept aside as `watchdog.json.corrupt` rather than silently overwritten.
    """
    path = state_path(log_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return WatchdogState()
    except (OSError, ValueError):
        os.replace(path, path.with_suffix(".json.corrupt"))
        return WatchdogState()
    return _from_dict(WatchdogState, data)


def save_state(log_dir: Path, state: WatchdogState) -> None:
    """Write the state atomically (temp file in the same folder + rename)."""
    path = state_path(log_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".watchdog-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(dataclasses.asdict(state), separators=(",", ":")))  # one write, compact
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
