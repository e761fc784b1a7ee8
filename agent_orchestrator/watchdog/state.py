"""The watchdog's persisted state, and the one owner of its file's schema.

`<log_dir>/state/watchdog.json` holds everything a restarted watchdog must remember: idle clocks
and the last screen facts, nudge flags, usage-limit windows, restart history, wake timers,
messages waiting for redelivery, the phase machine and the handoff bookkeeping. The state is
frozen data: policies return a new state (`dataclasses.replace`), never change one in place. All
times are epoch seconds (wall clock): they are compared with tmux's `#{window_activity}` and must
survive a restart of the process.

Every reader goes through `read_state` / `load_state`, which check the file's shape field by
field: a file that is not JSON, or is JSON of the wrong shape (`"phase": null`), is a
`StateError` naming the key and what was expected — never a crash in a later tick.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

import orjson

from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth.model import HookState, Truth

VERSION = 2


class StateError(ValueError):
    """The state file cannot be used: `key` is the path of the bad field ("" for the file)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


@dataclass(frozen=True)
class LimitWindow:
    """A usage limit the agent is waiting out: quiet until `until` (epoch), then one probe."""

    banner: str
    reset_at: float | None
    until: float
    detected_at: float
    probe_sent_at: float | None = None
    probe_text: str = ""


@dataclass(frozen=True)
class Message:
    """One message in an agent's outbox: a durable intent to deliver it, exactly once.

    `id` is its idempotency key; `kind` says what it is (ping, nudge, probe, wake, send, flag,
    fix, reannounce); `topic` lets messages merge while they wait (two claim pings become one
    listing both commits; a second nudge replaces the first); `items` are what a merged message
    lists (commit lines). `digest` (`truth.hook_events.prompt_digest` of `text`) is how the CLI's
    UserPromptSubmit proves delivery. `state`: "queued" (waiting for the turn to end), "sending"
    (handed to the pane — found in this state by a restarted watchdog, it is reconciled against
    the hooks and the screen, never blindly re-sent), "in-cli" (given to the CLI's own queue
    after the bounded wait; done once the CLI accepts it). Times are epoch seconds.
    """

    id: str
    kind: str
    text: str
    reason: str
    created: float
    digest: str
    topic: str = ""
    items: tuple[str, ...] = ()
    state: str = "queued"
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""
    sent_at: float | None = None
    held: str = ""


@dataclass(frozen=True)
class Intent:
    """A (re)start decided and not yet confirmed done: written to disk before the start goes out.

    A restarted watchdog that finds one open checks the world — the session's launcher pid moved
    on from `prev_pid` means the start happened — and only re-issues it when it did not.
    `kind` is the Start's kind (heal, reboot, advance, wake, on-complete, restart).
    """

    id: str
    agent: str
    kind: str
    reason: str
    created: float
    prev_pid: int | None = None
    prompt: str | None = None
    resume: bool = False


@dataclass(frozen=True)
class DialogProgress:
    """Where the dialogs policy is with the dialog on an agent's screen (one key at a time).

    `screen` is the content hash of the screen the last dialog key was sent on ("" = none in
    flight: the next key waits until the screen differs from it, or `sent_at` is long past);
    `moves` counts the cursor moves sent since the agent's start; `direct` is set once a move
    the shorter way round changed nothing (the list does not wrap: go straight from then on);
    `noted` is the dialog (name and options) whose needs-input note went out in the current
    episode ("" = none). `at` is when this was last written: a start after it makes it stale
    (`policies.dialogs`).
    """

    screen: str = ""
    sent_at: float = 0.0
    moves: int = 0
    noted: str = ""
    at: float = 0.0
    direct: bool = False


@dataclass(frozen=True)
class AgentState:
    """Per-agent bookkeeping (epoch seconds throughout).

    `idle_since` starts the stall clock (tmux's window activity, refined by content hashes);
    `restarts` are the start times inside the restart window; `failed_starts` counts consecutive
    starts that died within `start_secs`; `next_restart_at` is the backoff; `needs_human` the
    reason a crash loop stopped healing; `nudged_phase` the phase whose DONE-nudge was sent;
    `paused` set by `agents down NAME` / `pause`; `outbox` the messages waiting for the agent's
    turn to end (oldest first); `hooks` what the CLI's hook events said so far
    (`truth.hook_events`); `truth` the verdict of the last tick (`truth.fold`).
    """

    idle_since: float | None = None
    last_activity: float | None = None
    facts: ScreenFacts | None = None
    last_start: float | None = None
    restarts: tuple[float, ...] = ()
    failed_starts: int = 0
    next_restart_at: float = 0.0
    needs_human: str = ""
    nudged_phase: str | None = None
    limit: LimitWindow | None = None
    next_wake_at: float | None = None
    outbox: tuple[Message, ...] = ()
    dialogs_answered: int = 0
    dialog: DialogProgress = field(default_factory=DialogProgress)
    paused: bool = False
    last_limit_banner: str = ""
    hooks: HookState = field(default_factory=HookState)
    truth: Truth | None = None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class HandoffState:
    """Git handoff bookkeeping: the last `origin/main` head seen, inbox blob ids as pushed, the
    gate in flight (label of the latest claim and when it started), the last fetch error, and the
    work still open in this phase — the latest claim and the latest review per gate label, each
    as "<committer ts> <sha> <subject>" (what a restarted agent is told again). `announced` is
    only set in a state rebuilt without a head seen (`watchdog.rebuild`): per agent, the short
    shas it was already pinged for, which the first sight of origin/main does not ping again."""

    last_seen: str | None = None
    inbox: Mapping[str, str | None] = field(default_factory=dict)
    gate: str | None = None
    gate_started: float | None = None
    fetch_error: str = ""
    claims: Mapping[str, str] = field(default_factory=dict)
    reviews: Mapping[str, str] = field(default_factory=dict)
    announced: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetState:
    """Token budgets as the last tick saw them (`policies.budget`).

    `used` / `limits`: tokens spent and allowed per scope ("run", "phase p1"); `warned`: the
    scopes whose warning went out (once each); `held`: the scope whose budget holds the loop
    agents ("" = none), at `held_limit` tokens, `held_agents` whom it holds and `hold` the
    needs-human text they carry; `released`: holds a person released (`agents restart` /
    `resume`), as "scope=limit" — not held again until that limit changes.
    """

    used: Mapping[str, int] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)
    warned: tuple[str, ...] = ()
    held: str = ""
    held_limit: int = 0
    held_agents: tuple[str, ...] = ()
    hold: str = ""
    released: tuple[str, ...] = ()


@dataclass(frozen=True)
class WatchdogState:
    """The whole persisted state.

    `run_started` is when this run began (the first tick, or the oldest agent session if older);
    `last_tick` / `pid` say which watchdog ticked last; `config_error` is the validation error of
    the agents.toml edit that is not in force ("" when it validates); `requests_done` are the ids
    of CLI requests already applied (so a request is applied once, even across a crash);
    `intents` the (re)starts decided and not yet confirmed done; `hosts` the `[[host]]`s that
    stopped answering, with when they did (epoch).
    """

    version: int = VERSION
    agents: Mapping[str, AgentState] = field(default_factory=dict)
    phase: PhaseState = field(default_factory=PhaseState)
    handoff: HandoffState = field(default_factory=HandoffState)
    last_heavy: float = 0.0
    config_error: str = ""
    run_started: float | None = None
    last_tick: float | None = None
    pid: int | None = None
    requests_done: tuple[str, ...] = ()
    intents: tuple[Intent, ...] = ()
    hosts: Mapping[str, float] = field(default_factory=dict)
    budget: BudgetState = field(default_factory=BudgetState)  # token budgets: figures and hold (`policies.budget`)

    def agent(self, name: str) -> AgentState:
        """The agent's state (a fresh one when it has none yet)."""
        return self.agents.get(name) or AgentState()

    def with_agent(self, name: str, agent: AgentState) -> WatchdogState:
        """A copy with agent `name`'s state replaced."""
        return replace(self, agents={**self.agents, name: agent})

    def update_agent(self, name: str, **changes: Any) -> WatchdogState:
        """A copy with `changes` applied to agent `name`'s state."""
        return self.with_agent(name, replace(self.agent(name), **changes))


# -- the file -------------------------------------------------------------------------------
def sequence_marker(log_dir: Path) -> Path:
    """`<log_dir>/SEQUENCE-COMPLETE`: written once when the sequence completes, removed when it
    resumes (phases appended, or moved by hand), so it never contradicts the state."""
    return Path(log_dir) / "SEQUENCE-COMPLETE"


def state_path(log_dir: Path) -> Path:
    """Where the watchdog state lives: `<log_dir>/state/watchdog.json`."""
    return Path(log_dir) / "state" / "watchdog.json"


def to_json(state: WatchdogState) -> str:
    """The state as compact JSON (one line, UTF-8 text, non-ASCII not escaped).

    orjson serializes the frozen dataclasses directly: 0.12 ms for a 100-agent state against
    7 ms for `json.dumps(dataclasses.asdict(…))`, which deep-copies the state first — the
    watchdog does this twice a tick (BENCHMARKS.md, watchdog tick). Same JSON value as before.
    """
    return orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS).decode()


def from_json(data: Any) -> WatchdogState:
    """Rebuild the state from parsed JSON, checking every field's type.

    Unknown keys are ignored (a newer watchdog's file still loads); missing keys keep their
    defaults. Raises StateError naming the first bad key (e.g. `phase: expected an object, got
    null`).
    """
    if not isinstance(data, dict):
        raise StateError("", f"expected a JSON object, got {_show(data)}")
    return typing.cast(WatchdogState, _decode(WatchdogState, data, ""))


def read_state(log_dir: Path, *, set_aside: bool = False) -> tuple[WatchdogState, str]:
    """(the saved state, "" or why it could not be used).

    A missing file is a fresh state with no problem. An unreadable or wrong-shaped file gives a
    fresh state and the reason; with `set_aside` (the watchdog, under its lock) the bad file is
    kept as `watchdog.json.corrupt` instead of being overwritten by the next save. Read-only
    callers (status, watchers) leave it where it is.
    """
    path = state_path(log_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WatchdogState(), ""
    except OSError as exc:
        return WatchdogState(), f"{path}: cannot read: {exc.strerror}"
    try:
        return from_json(json.loads(text)), ""
    except (ValueError, StateError) as exc:
        problem = f"{path}: {exc}"
    if set_aside:
        os.replace(path, path.with_suffix(".json.corrupt"))
        problem += f" (kept as {path.name}.corrupt)"
    return WatchdogState(), problem


def load_state(log_dir: Path) -> WatchdogState:
    """The saved state for a reader (a fresh one when there is none or it cannot be used)."""
    return read_state(log_dir)[0]


def save_state(log_dir: Path, state: WatchdogState) -> None:
    """Write the state atomically (temp file in the same folder + fsync + rename)."""
    write_atomic(state_path(log_dir), to_json(state))


def write_atomic(path: Path, text: str, *, prefix: str = ".watchdog-") -> None:
    """Replace `path` with `text` atomically; the temp file never outlives a failed write (a
    kill leaves it: `Watchdog.recover` removes `prefix*` at start). A missing folder is made
    private (0o700, `runtime.folders`)."""
    ensure_dir(path.parent, PRIVATE)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)  # one write: json.dump's many small writes are ~10x slower
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- decoding with shape checks ---------------------------------------------------------------
def _show(value: Any) -> str:
    return "null" if value is None else json.dumps(value)[:40]


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        if value not in args:
            raise StateError(key, f"expected one of {', '.join(map(str, args))}, got {_show(value)}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _decode(inner[0], value, key)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise StateError(key, f"expected an object, got {_show(value)}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _decode(_hints(tp)[f.name], value[f.name], f"{key}.{f.name}" if key else f.name)
        missing = [f.name for f in dataclasses.fields(tp)
                   if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise StateError(key, f"missing {', '.join(missing)}")
        return tp(**kwargs)
    if origin is tuple:
        if not isinstance(value, list):
            raise StateError(key, f"expected a list, got {_show(value)}")
        return tuple(_decode(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or tp is dict:
        if not isinstance(value, dict):
            raise StateError(key, f"expected an object, got {_show(value)}")
        return {str(k): _decode(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise StateError(key, f"expected true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StateError(key, f"expected an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StateError(key, f"expected a number, got {_show(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise StateError(key, f"expected a string, got {_show(value)}")
        return value
    return value
