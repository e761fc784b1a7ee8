"""Running a watcher (DESIGN §8): one tick over the ledger, and the loop that repeats it.

- `flag_tick`: drain → staleness → decisions (`watchers/decisions.py`) appended to the ledger
  (`watchers/ledger.py`), and resolving the open flags whose episode ended;
- `WatcherLoop`: off unless enabled, one tick per interval, a failing tick is logged and the next
  one runs, a stop request ends it mid-wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent_orchestrator.watchers.decisions import FlagWatcher, TickReport, decide, ended_episodes
from agent_orchestrator.watchers.ledger import DecisionLedger


def flag_tick(watcher: FlagWatcher, ledger: DecisionLedger, *, host: str, now: float, window: float) -> TickReport:
    """One tick of a flag watcher hosted by agent `host`: record a decision per stalled episode
    (a no-op for an episode already recorded) and close the host's flags whose episode ended.

    `now` is epoch seconds, `window` seconds. Whatever the drain raises (and the ledger's OSError)
    propagates: the loop logs it and ticks again.
    """
    entities = list(watcher.drain(now))
    new = [d for d in decide(watcher, entities, host=host, now=now, window=window) if ledger.append(d)]
    resolved: dict[str, str] = {}
    if watcher.auto_resolve:
        mine = [f for f in ledger.flags(watcher=host, open_only=True) if f.decision.choice == watcher.choice]
        ended = ended_episodes(mine, entities)
        resolved = {did: note for did, note in ended.items() if ledger.resolve(did, by=host, note=note, now=now) is not None}
    notes, watcher.notes[:] = list(watcher.notes), []
    return TickReport(new, resolved, notes)


class WatcherLoop:
    """Tick every `interval` seconds until stopped.

    `tick(now)` is the watcher's work (`now` from `clock`, epoch seconds); `enabled()` is asked
    before every tick — watchers are off by default, so the default answer is False, and a tick of
    a disabled watcher does nothing. A tick that raises is reported through `log` and the loop
    goes on. `stop()` (or the `stop` event, e.g. set from a signal handler) ends the loop at once,
    also in the middle of a wait. `interval` may be a callable, re-read after every tick (a config
    edit changes the pace); one that raises waits 60 s.
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
