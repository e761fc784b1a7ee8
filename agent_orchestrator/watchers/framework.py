"""The watcher scaffold (DESIGN §8): what every domain watcher shares.

A watcher is deterministic, periodic and flag-first: each tick it drains the entities it watches,
decides with `is_stalled` whether each has sat past the operator's window without progress, and
records one **decision** per stall **episode**. This module owns:

- the staleness rule `is_stalled` (inclusive: exactly `window` seconds without progress flags);
- the per-episode deterministic id `decision_id` — uuid5 of the watcher's namespace and
  ``decision:<entity_id>:<episode_start>`` — so re-flagging the same episode, from this process
  or another, yields the same id;
- the decision ledger `<log_dir>/decisions.jsonl` (`DecisionLedger`): an idempotent append under
  an fcntl lock (an id already there is a no-op), and resolution records appended beside the
  decisions (history is never rewritten);
- `flag_tick`: drain → staleness → decisions, and resolving the open flags whose episode ended;
- `WatcherLoop`: off unless enabled, one tick per interval, a failing tick is logged and the next
  one runs, a stop request ends it mid-wait.

A watcher module owns only its drain (which entities, in which state), its vocabulary
(`context` / `choice` tokens, unique across all watchers), any activity fold and its namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_orchestrator.transcripts.tail import tail

# Every watcher namespace derives from this one, so ids never collide with other uuid5 users.
ROOT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "agent-orchestrator:watchers")
LEDGER_FILE = "decisions.jsonl"
_LOCK_FILE = ".decisions.lock"


def namespace(name: str) -> uuid.UUID:
    """The uuid namespace of the watcher called `name` (a built-in's module name, a user entry point)."""
    return uuid.uuid5(ROOT_NAMESPACE, name)


def is_stalled(last_progress_at: float, now: float, window: float) -> bool:
    """True when `now` is `window` seconds or more past the last progress (inclusive boundary).

    >>> is_stalled(100.0, 130.0, 30.0), is_stalled(100.0, 129.9, 30.0)
    (True, False)
    """
    return now - last_progress_at >= window


def episode_key(episode_start: Any) -> str:
    """The canonical text of an episode start: whole-number times without a fraction, so that
    `1700000000`, `1700000000.0` and `"1700000000"` are the same episode.

    >>> episode_key(1700000000.0), episode_key(12.5), episode_key("fix:abc")
    ('1700000000', '12.5', 'fix:abc')
    """
    if isinstance(episode_start, bool):
        return str(episode_start)
    if isinstance(episode_start, (int, float)):
        return str(int(episode_start)) if float(episode_start).is_integer() else repr(float(episode_start))
    return str(episode_start)


def decision_id(ns: uuid.UUID, entity_id: str, episode_start: Any) -> str:
    """The deterministic id of the decision about `entity_id` in the episode starting at `episode_start`."""
    return str(uuid.uuid5(ns, f"decision:{entity_id}:{episode_key(episode_start)}"))


@dataclass
class WatcherContext:
    """What a watcher is built with: the project's config (the host swaps in each re-read, so a
    drain that reads `ctx.config` per tick follows edits), the hosting agent and the log folder."""

    config: Any
    agent: Any
    log_dir: Path

    @property
    def name(self) -> str:
        """The hosting agent's name: the `watcher` field of its decisions."""
        return str(self.agent.name)


@dataclass(frozen=True)
class Vocabulary:
    """The `context` and `choice` tokens a watcher writes (unique across all watchers)."""

    contexts: tuple[str, ...]
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """One work item a drain returns.

    `changed_at` is when it entered `state` (epoch seconds); `activity_at` the latest progress an
    activity fold saw (None: none). The episode starts at the later of the two: progress after a
    flag starts a new episode, hence a new decision id. `summary` is a short human description
    ("gate G1 claimed in 8a3f12c4"); `inputs` are the facts recorded with a decision.
    """

    id: str
    state: str
    changed_at: float
    activity_at: float | None = None
    summary: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def last_progress_at(self) -> float:
        """When the current episode started."""
        return self.changed_at if self.activity_at is None else max(self.changed_at, self.activity_at)


@dataclass(frozen=True)
class Decision:
    """One record of the ledger: a watcher decided `choice` in `context` about an entity's episode."""

    id: str
    watcher: str
    context: str
    choice: str
    entity_id: str
    episode_start: Any
    reasoning: str
    inputs: Mapping[str, Any]
    decided_at: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON line (with `"record": "decision"`)."""
        return {"record": "decision", "id": self.id, "watcher": self.watcher, "context": self.context, "choice": self.choice,
                "entity_id": self.entity_id, "episode_start": self.episode_start, "reasoning": self.reasoning,
                "inputs": dict(self.inputs), "decided_at": self.decided_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """A decision read back from the ledger (missing fields are empty)."""
        return cls(id=str(data.get("id", "")), watcher=str(data.get("watcher", "")), context=str(data.get("context", "")),
                   choice=str(data.get("choice", "")), entity_id=str(data.get("entity_id", "")),
                   episode_start=data.get("episode_start"), reasoning=str(data.get("reasoning", "")),
                   inputs=dict(data.get("inputs") or {}), decided_at=float(data.get("decided_at") or 0.0))


@dataclass(frozen=True)
class Flag:
    """A decision and its resolution record (None while the flag is open)."""

    decision: Decision
    resolution: Mapping[str, Any] | None = None

    @property
    def open(self) -> bool:
        return self.resolution is None


class DecisionLedger:
    """`<log_dir>/decisions.jsonl`: decisions and resolutions as JSON lines, append-only.

    Writers hold an exclusive flock on `<log_dir>/.decisions.lock` while they read what others
    appended and append their own line, so "is this id new?" and the append are one step across
    processes. Readers need no lock: only complete lines are read, a torn last line waits for the
    next read. The file is read incrementally (from the last offset), so a long-lived watcher pays
    only for what was appended since its previous look.
    """

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / LEDGER_FILE
        self._lock_path = Path(log_dir) / _LOCK_FILE
        self._offset = 0
        self._decisions: dict[str, Decision] = {}
        self._resolutions: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def _refresh(self) -> None:
        records, self._offset, reset = tail(self.path, self._offset)
        if reset:
            self._decisions, self._resolutions = {}, {}
        for record in records:
            if not record.get("id"):
                continue
            rid = str(record["id"])
            if record.get("record") == "resolution":
                self._resolutions.setdefault(rid, record)
            else:
                self._decisions.setdefault(rid, Decision.from_dict(record))

    def _write(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, default=str, sort_keys=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, decision: Decision, *, closed_note: str | None = None) -> bool:
        """Append `decision` unless its id is already in the ledger; True when it was new.

        `closed_note` also appends its resolution at once (a decision that records an action
        rather than raising a flag, e.g. a fix-forward prompt that was sent).
        """
        with self._locked():
            self._refresh()
            if decision.id in self._decisions:
                return False
            self._write(decision.to_dict())
            self._decisions[decision.id] = decision
            if closed_note is not None:
                self._write_resolution(decision.id, by=decision.watcher, note=closed_note, now=decision.decided_at)
            return True

    def _write_resolution(self, decision: str, *, by: str, note: str, now: float) -> dict[str, Any]:
        record = {"record": "resolution", "id": decision, "resolved_at": now, "by": by, "note": note}
        self._write(record)
        self._resolutions[decision] = record
        return record

    def resolve(self, decision: str, *, by: str, note: str = "", now: float | None = None) -> dict[str, Any] | None:
        """Close the flag `decision` (a full id) with a resolution record; None when it was
        already closed (nothing written). Raises KeyError for an id that is not in the ledger."""
        with self._locked():
            self._refresh()
            if decision not in self._decisions:
                raise KeyError(decision)
            if decision in self._resolutions:
                return None
            return self._write_resolution(decision, by=by, note=note, now=time.time() if now is None else now)

    def has(self, decision: str) -> bool:
        """True when a decision with this id is recorded."""
        self._refresh()
        return decision in self._decisions

    def flags(self, *, watcher: str | None = None, open_only: bool = False) -> list[Flag]:
        """Every decision in ledger order with its resolution, optionally only `watcher`'s / the open ones."""
        self._refresh()
        out = []
        for d in self._decisions.values():
            if watcher is not None and d.watcher != watcher:
                continue
            flag = Flag(d, self._resolutions.get(d.id))
            if open_only and not flag.open:
                continue
            out.append(flag)
        return out

    def find(self, prefix: str) -> list[Decision]:
        """Decisions whose id starts with `prefix` (a full id or an unambiguous short one)."""
        self._refresh()
        prefix = prefix.strip().lower()
        return [d for i, d in self._decisions.items() if prefix and i.startswith(prefix)]


def open_counts(ledger: DecisionLedger) -> dict[str, int]:
    """Open flags per watcher (hosting agent name)."""
    counts: dict[str, int] = {}
    for flag in ledger.flags(open_only=True):
        counts[flag.decision.watcher] = counts.get(flag.decision.watcher, 0) + 1
    return counts


def duration(seconds: float) -> str:
    """A short human duration: 45s, 3m05s, 2h10m."""
    seconds = int(max(0.0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


@dataclass
class FlagWatcher:
    """A flag-only watcher: its `drain(now)` lists the entities it watches; everything else is
    the scaffold's. `kind` names the watcher type ("claims"); `context` / `choice` are its
    vocabulary; `auto_resolve` closes an open flag once its episode ended (the entity left the
    drain, or progressed into a new episode)."""

    kind: str
    namespace: uuid.UUID
    context: str
    choice: str
    drain: Callable[[float], Iterable[Entity]]
    auto_resolve: bool = True
    notes: list[str] = field(default_factory=list)  # a drain's warnings, shown by the host each tick

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary((self.context,), (self.choice,))

    def reasoning(self, entity: Entity, now: float, window: float) -> str:
        """Why the entity is flagged, in one line."""
        what = entity.summary or f"{entity.id} ({entity.state})"
        return f"{what}: no progress for {duration(now - entity.last_progress_at)} (window {duration(window)})"


@dataclass(frozen=True)
class TickReport:
    """What one tick did: decisions it recorded (`new`) and flags it closed (`resolved`: id → note)."""

    new: list[Decision] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def decide(watcher: FlagWatcher, entities: Iterable[Entity], *, host: str, now: float, window: float) -> list[Decision]:
    """The decisions for the stalled entities (pure: nothing is written)."""
    out = []
    for e in entities:
        start = e.last_progress_at
        if not is_stalled(start, now, window):
            continue
        inputs = {**e.inputs, "state": e.state, "changed_at": e.changed_at, "activity_at": e.activity_at, "window": window}
        out.append(Decision(id=decision_id(watcher.namespace, e.id, start), watcher=host, context=watcher.context,
                            choice=watcher.choice, entity_id=e.id, episode_start=start,
                            reasoning=watcher.reasoning(e, now, window), inputs=inputs, decided_at=now))
    return out


def ended_episodes(flags: Iterable[Flag], entities: Iterable[Entity]) -> dict[str, str]:
    """Open flags whose episode is over (pure): decision id → why. An entity no longer drained
    left the watched state; one whose episode start moved has progressed."""
    current = {e.id: e for e in entities}
    out = {}
    for flag in flags:
        d = flag.decision
        if not flag.open:
            continue
        e = current.get(d.entity_id)
        if e is None:
            out[d.id] = f"resolved by the watcher: {d.entity_id} is no longer in that state"
        elif episode_key(e.last_progress_at) != episode_key(d.episode_start):
            out[d.id] = f"resolved by the watcher: {d.entity_id} progressed (new episode)"
    return out


def flag_tick(watcher: FlagWatcher, ledger: DecisionLedger, *, host: str, now: float, window: float) -> TickReport:
    """One tick of a flag watcher hosted by agent `host`: record a decision per stalled episode
    (a no-op for an episode already recorded) and close the host's flags whose episode ended."""
    entities = list(watcher.drain(now))
    new = [d for d in decide(watcher, entities, host=host, now=now, window=window) if ledger.append(d)]
    resolved: dict[str, str] = {}
    if watcher.auto_resolve:
        mine = [f for f in ledger.flags(watcher=host, open_only=True) if f.decision.choice == watcher.choice]
        for did, note in ended_episodes(mine, entities).items():
            if ledger.resolve(did, by=host, note=note, now=now) is not None:
                resolved[did] = note
    notes, watcher.notes[:] = list(watcher.notes), []
    return TickReport(new, resolved, notes)


class WatcherLoop:
    """Tick every `interval` seconds until stopped.

    `tick(now)` is the watcher's work; `enabled()` is asked before every tick — watchers are off
    by default, so the default answer is False, and a tick of a disabled watcher does nothing.
    A tick that raises is reported through `log` and the loop goes on. `stop()` (or the `stop`
    event, e.g. set from a signal handler) ends the loop at once, also in the middle of a wait.
    `interval` may be a callable, re-read after every tick (a config edit changes the pace).
    """

    def __init__(self, tick: Callable[[float], object], interval: float | Callable[[], float], *,
                 enabled: Callable[[], bool] = lambda: False, clock: Callable[[], float] = time.time,
                 stop: threading.Event | None = None, log: Callable[[str], None] = print) -> None:
        self.tick = tick
        self.interval = interval if callable(interval) else (lambda: float(interval))
        self.enabled = enabled
        self.clock = clock
        self.stop_event = stop or threading.Event()
        self.log = log
        self.ticks = 0  # ticks that ran (enabled)
        self.skipped = 0  # ticks skipped while disabled
        self.failures = 0

    def stop(self) -> None:
        """End the loop (it returns from its current wait at once)."""
        self.stop_event.set()

    def run_once(self) -> bool:
        """One tick if enabled; True when it ran without raising."""
        try:
            if not self.enabled():
                self.skipped += 1
                return False
            self.ticks += 1
            self.tick(self.clock())
            return True
        except Exception as exc:  # noqa: BLE001 - a bad tick must not end the watcher; it is logged and retried
            self.failures += 1
            self.log(f"tick failed: {type(exc).__name__}: {exc}")
            return False

    def run(self, *, max_ticks: int | None = None) -> None:
        """Tick until stopped (or after `max_ticks` attempts, for tests)."""
        attempts = 0
        while not self.stop_event.is_set():
            self.run_once()
            attempts += 1
            if max_ticks is not None and attempts >= max_ticks:
                break
            try:
                pause = max(0.0, float(self.interval()))
            except Exception:  # noqa: BLE001 - a broken interval source must not end the loop
                pause = 60.0
            self.stop_event.wait(pause)
