"""What a domain watcher decides (DESIGN §8), as pure data and functions: no file, clock or process.

A watcher is deterministic, periodic and flag-first: each tick it drains the entities it watches,
decides with `is_stalled` whether each has sat past the operator's window without progress, and
records one **decision** per stall **episode**. This module owns:

- the staleness rule `is_stalled` (inclusive: exactly `window` seconds without progress flags);
- the per-episode deterministic id `decision_id` — uuid5 of the watcher's namespace and
  ``decision:<entity_id>:<episode_start>`` — so re-flagging the same episode, from this process
  or another, yields the same id;
- the records: `Entity` (what a drain returns), `Decision` (a ledger line), `Flag` (a decision
  with its resolution), `TickReport` (what one tick did);
- `FlagWatcher` (a drain plus its vocabulary) and `declare`, which folds a built-in's
  kind / namespace / context / choice into one frozen `Declaration`;
- `decide` (the decisions for the stalled entities) and `ended_episodes` (the open flags whose
  episode is over).

The ledger these decisions are written to is `watchers/ledger.py`; the tick and the loop that
run a watcher are `watchers/loop.py`. A watcher module owns only its drain (which entities, in
which state), its vocabulary (`context` / `choice` tokens, unique across all watchers), any
activity fold and its namespace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Every watcher namespace derives from this one, so ids never collide with other uuid5 users.
ROOT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "agent-orchestrator:watchers")


def namespace(name: str) -> uuid.UUID:
    """The uuid namespace of the watcher called `name` (a built-in's module name, a user entry point).

    >>> namespace("claims") == namespace("claims") != namespace("held")
    True
    """
    return uuid.uuid5(ROOT_NAMESPACE, name)


def is_stalled(last_progress_at: float, now: float, window: float) -> bool:
    """True when `now` is `window` seconds or more past the last progress (inclusive boundary).

    All three are seconds (`last_progress_at` and `now` epoch seconds).

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
    """The deterministic id (a uuid5 in its 36-character text form) of the decision about
    `entity_id` in the episode starting at `episode_start` (see `episode_key`)."""
    return str(uuid.uuid5(ns, f"decision:{entity_id}:{episode_key(episode_start)}"))


def duration(seconds: float) -> str:
    """A short human duration of `seconds` (negative counts as 0).

    >>> duration(45), duration(185), duration(7800)
    ('45s', '3m05s', '2h10m')
    """
    seconds = int(max(0.0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


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
    activity fold saw (epoch seconds; None: none). The episode starts at the later of the two:
    progress after a flag starts a new episode, hence a new decision id. `summary` is a short
    human description ("gate G1 claimed in 8a3f12c4"); `inputs` are the facts recorded with a
    decision.
    """

    id: str
    state: str
    changed_at: float
    activity_at: float | None = None
    summary: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def last_progress_at(self) -> float:
        """When the current episode started (epoch seconds)."""
        return self.changed_at if self.activity_at is None else max(self.changed_at, self.activity_at)


@dataclass(frozen=True)
class Decision:
    """One record of the ledger: a watcher decided `choice` in `context` about an entity's episode.

    `watcher` is the hosting agent's name, `episode_start` what `decision_id` was derived from
    (epoch seconds or a text key), `decided_at` epoch seconds.
    """

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
        """A decision read back from the ledger (missing fields are empty). Raises ValueError or
        TypeError when `decided_at` is not a number."""
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
        """True while nobody (watcher or operator) has resolved the decision."""
        return self.resolution is None


@dataclass
class FlagWatcher:
    """A flag-only watcher: its `drain(now)` lists the entities it watches; everything else
    (deciding, recording, resolving) is shared. `kind` names the watcher type ("claims"); `context` / `choice` are its
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
        """Its one context and one choice."""
        return Vocabulary((self.context,), (self.choice,))

    def reasoning(self, entity: Entity, now: float, window: float) -> str:
        """Why the entity is flagged, in one line (`now` epoch seconds, `window` seconds)."""
        what = entity.summary or f"{entity.id} ({entity.state})"
        return f"{what}: no progress for {duration(now - entity.last_progress_at)} (window {duration(window)})"


@dataclass(frozen=True)
class Declaration:
    """Who a flag watcher is: its `kind`, the uuid `namespace` derived from it, and its one
    `context` / `choice` pair. A built-in declares it once at module level (`declare`)."""

    kind: str
    namespace: uuid.UUID
    context: str
    choice: str

    @property
    def vocabulary(self) -> Vocabulary:
        """Its one context and one choice."""
        return Vocabulary((self.context,), (self.choice,))

    def watcher(self, drain: Callable[[float], Iterable[Entity]]) -> FlagWatcher:
        """A `FlagWatcher` of this declaration over `drain(now)`."""
        return FlagWatcher(self.kind, self.namespace, self.context, self.choice, drain)


def declare(kind: str, context: str, choice: str) -> Declaration:
    """The declaration of a flag watcher of type `kind`; its namespace is `namespace(kind)`.

    >>> d = declare("claims", "claim-unreviewed", "flag-claim")
    >>> d.namespace == namespace("claims"), d.vocabulary
    (True, Vocabulary(contexts=('claim-unreviewed',), choices=('flag-claim',)))
    """
    return Declaration(kind, namespace(kind), context, choice)


@dataclass(frozen=True)
class TickReport:
    """What one tick did: decisions it recorded (`new`), flags it closed (`resolved`: id → note)
    and a drain's warnings (`notes`)."""

    new: list[Decision] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def decide(watcher: FlagWatcher, entities: Iterable[Entity], *, host: str, now: float, window: float) -> list[Decision]:
    """The decisions for the stalled entities, in drain order (pure: nothing is written).

    `host` is the hosting agent's name, `now` epoch seconds, `window` seconds.
    """
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
