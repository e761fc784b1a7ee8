"""What a running watchdog saved, sampled over time: for tests and benchmarks that measure how
soon the watchdog's state reflects an agent CLI's hook event.

`StateTimeline` polls `<log_dir>/state/watchdog.json` from a thread and keeps every distinct
write as a `Snapshot`, stamped with the file's own mtime (when the watchdog wrote it, not when
the poll noticed). The watchdog writes the state atomically (temp file + rename), so the mtime
of the inode that was read is the time of exactly that content.

`hook_events` reads an agent's hook file (`<log_dir>/hooks/<agent>.jsonl`) as `HookEvent`s,
whose `ts` is the hook script's own clock: reaction = snapshot mtime − event ts.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.agents.hooks import hook_log
from agent_orchestrator.truth.hook_events import read_events
from agent_orchestrator.truth.model import HookEvent
from agent_orchestrator.watchdog.state import AgentState, StateError, WatchdogState, from_json, state_path


@dataclass(frozen=True)
class Snapshot:
    """One state the watchdog saved: `at` = the state file's mtime (epoch seconds)."""

    at: float
    state: WatchdogState

    def agent(self, name: str) -> AgentState:
        return self.state.agent(name)


class StateTimeline:
    """Every distinct `watchdog.json` the watchdog wrote while running (polled each `poll` s)."""

    def __init__(self, log_dir: Path, poll: float = 0.01) -> None:
        self.path = state_path(Path(log_dir))
        self.poll = poll
        self._snapshots: list[Snapshot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: tuple[int, int] | None = None

    def __enter__(self) -> StateTimeline:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> StateTimeline:
        self._thread = threading.Thread(target=self._run, name="state-timeline", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.poll)

    def sample(self) -> None:
        """Read the state file once; keep it when it is a new write."""
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if (st.st_ino, st.st_mtime_ns) == self._seen:
            return
        try:
            with open(self.path, encoding="utf-8") as fh:
                mine = os.fstat(fh.fileno())
                text = fh.read()
        except OSError:
            return
        try:
            state = from_json(json.loads(text))
        except (ValueError, StateError):
            return
        self._seen = (mine.st_ino, mine.st_mtime_ns)
        with self._lock:
            self._snapshots.append(Snapshot(mine.st_mtime_ns / 1e9, state))

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return list(self._snapshots)

    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._snapshots[-1] if self._snapshots else None

    def first(self, check: Callable[[Snapshot], bool], after: float = 0.0) -> Snapshot | None:
        """The first snapshot written at or after `after` (epoch) for which `check` holds."""
        return next((s for s in self.snapshots() if s.at >= after and check(s)), None)

    def wait(self, check: Callable[[Snapshot], bool], timeout: float, after: float = 0.0) -> Snapshot | None:
        """`first(check, after)`, waiting up to `timeout` seconds for it (None when it never came)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.first(check, after)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(self.poll)


def hook_events(log_dir: Path, agent: str) -> list[HookEvent]:
    """The agent's recorded hook events, in file order (a torn last line is skipped)."""
    try:
        text = hook_log(Path(log_dir), agent).read_text(encoding="utf-8")
    except OSError:
        return []
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return list(read_events(x for x in lines if isinstance(x, dict)))


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest-rank (the value itself, not interpolated)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]
