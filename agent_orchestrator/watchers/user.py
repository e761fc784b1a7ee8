"""User watchers: a Python entry point (`watcher = "module:factory"`) or a command
(`watcher = "command"`, `watcher_cmd = [argv]`) — thin consumers of `watchers/decisions.py`.

A command prints its entities, one JSON object per line:

    {"id": "TICKET-7", "state": "open", "changed_at": 1717171717, "activity_at": "2024-05-31T16:08:37Z"}

`id` (string or number) and `state` (string) are required; `changed_at` — when the entity entered
its state — is epoch seconds or an ISO-8601 time (UTC when no offset); `activity_at` (optional,
same forms) is its latest progress. Other keys are kept as the decision's inputs. A line that is
not such an object is skipped with a warning; a command that fails (non-zero exit, timeout) fails
the tick, which is logged and retried.

An entry point is imported (the config's folder is on `sys.path`) and called with the
`WatcherContext`; it returns a `FlagWatcher` (its own namespace and vocabulary) or a callable
`drain(now)` returning `Entity` objects or dicts shaped like the command's lines.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, Vocabulary, WatcherContext, namespace

KIND = "user"
CONTEXT, CHOICE = "entity-stale", "flag-entity"
VOCABULARY = Vocabulary((CONTEXT,), (CHOICE,))
COMMAND_TIMEOUT_MAX = 300.0


def _time(value: Any, key: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{key}: expected epoch seconds or an ISO-8601 time, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{key}: {value!r} is not an ISO-8601 time") from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"{key}: expected epoch seconds or an ISO-8601 time, got {value!r}")


def entity_from(data: Mapping[str, Any]) -> Entity:
    """An entity from one JSON object; raises ValueError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {data!r}")
    eid, state = data.get("id"), data.get("state")
    if isinstance(eid, bool) or not isinstance(eid, (str, int)) or str(eid) == "":
        raise ValueError(f"id: expected a non-empty string, got {eid!r}")
    if not isinstance(state, str) or not state:
        raise ValueError(f"state: expected a non-empty string, got {state!r}")
    changed = _time(data.get("changed_at"), "changed_at")
    activity = _time(data["activity_at"], "activity_at") if data.get("activity_at") is not None else None
    extra = {k: v for k, v in data.items() if k not in ("id", "state", "changed_at", "activity_at")}
    summary = str(extra.pop("summary", "") or f"{eid} ({state})")
    return Entity(id=str(eid), state=state, changed_at=changed, activity_at=activity, summary=summary, inputs=extra)


def parse_lines(text: str) -> tuple[list[Entity], list[str]]:
    """Entities from a command's stdout, and one warning per line that is not an entity."""
    entities, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entities.append(entity_from(json.loads(line)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            problems.append(f"line {n}: {exc}: {line[:120]}")
    return entities, problems


def command_watcher(ctx: WatcherContext) -> FlagWatcher:
    """Runs `watcher_cmd` every tick (in the agent's dir) and reads its entities."""
    watcher = FlagWatcher(KIND, namespace(f"command:{ctx.name}"), CONTEXT, CHOICE, lambda now: [])

    def drain(now: float) -> list[Entity]:
        agent = ctx.agent
        timeout = min(max(float(agent.interval), 10.0), COMMAND_TIMEOUT_MAX)
        try:
            done = subprocess.run(list(agent.watcher_cmd), cwd=str(agent.dir or ctx.config.root), capture_output=True, check=False,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{agent.watcher_cmd[0]}: no answer within {timeout:g}s") from None
        except OSError as exc:
            raise RuntimeError(f"{agent.watcher_cmd[0]}: cannot run: {exc.strerror}") from None
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"{agent.watcher_cmd[0]} exited {done.returncode}: {tail}")
        entities, problems = parse_lines(done.stdout)
        watcher.notes.extend(problems)
        return entities

    watcher.drain = drain
    return watcher


def _load(entry: str, root: str) -> Callable[..., Any]:
    module_name, _, attr = entry.partition(":")
    if root not in sys.path:
        sys.path.insert(0, root)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def entry_point_watcher(ctx: WatcherContext) -> FlagWatcher:
    """Imports and calls the agent's `module:factory`. Raises ImportError/AttributeError/TypeError
    with the entry point named when it does not give a watcher."""
    entry = str(ctx.agent.watcher)
    try:
        made = _load(entry, str(ctx.config.root))(ctx)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"watcher {entry!r}: {exc}") from exc
    if isinstance(made, FlagWatcher):
        return made
    if not callable(made):
        raise TypeError(f"watcher {entry!r}: the factory returned {type(made).__name__}; expected a FlagWatcher or a drain(now) callable")
    watcher = FlagWatcher(KIND, namespace(f"entry:{entry}"), CONTEXT, CHOICE, lambda now: [])

    def drain(now: float) -> list[Entity]:
        items: Iterable[Any] = made(now)
        out = []
        for item in items:
            if isinstance(item, Entity):
                out.append(item)
                continue
            try:
                out.append(entity_from(item))
            except ValueError as exc:
                watcher.notes.append(f"{entry}: {exc}")
        return out

    watcher.drain = drain
    return watcher
