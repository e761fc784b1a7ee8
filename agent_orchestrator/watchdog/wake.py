"""The wake channel: what makes the watchdog tick now instead of at the next interval.

The driver sleeps on `WakeChannel.wait(signal_interval)`: it returns early when a watched folder
changes — an agent CLI appended a hook event (`<log_dir>/hooks/`), a verb dropped a request
(`<log_dir>/state/requests/`), a pane launcher recorded an agent's exit (`<log_dir>/launch/`), or
something outside (a git `post-receive` hook) touched a file in `<log_dir>/wake/`. The fixed interval is only the backstop.

Watching is `watchfiles` (inotify on Linux, FSEvents on macOS, polling elsewhere) in a daemon
thread; if it cannot start, the channel degrades to the plain interval and says so in `error`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir

DEBOUNCE_MS = 20  # a burst of events (a tool call's Pre/Post hooks) wakes the tick once
STEP_MS = 50  # watchfiles' poll of its event queue: 10 ms cost ~0.6% of a core at rest, 50 ms ~0.2% (BENCHMARKS.md)


def wake_dir(log_dir: Path) -> Path:
    """`<log_dir>/wake/`: touch (or append to) any file here to wake the watchdog."""
    return Path(log_dir) / "wake"


class WakeChannel:
    """Wakes a sleeping driver when any of `folders` changes (created if missing)."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self.error = ""
        self.wakes = 0  # times a change woke the channel (for status and benchmarks)
        self.last_reasons: set[str] = set()
        self._event = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._reasons: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> WakeChannel:
        """Start watching (idempotent); returns self once the watcher is set up (or failed)."""
        if self._thread is not None:
            return self
        for folder in self.folders:
            ensure_dir(folder, PRIVATE)
        self._thread = threading.Thread(target=self._watch, name="wake-channel", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        return self

    def _watch(self) -> None:
        try:
            import watchfiles

            changes = watchfiles.watch(*self.folders, watch_filter=None, debounce=DEBOUNCE_MS, step=STEP_MS,
                                       stop_event=self._stop, rust_timeout=1000, yield_on_timeout=True,
                                       raise_interrupt=False)
            self._ready.set()
            for batch in changes:
                if self._stop.is_set():
                    return
                added = [path for change, path in batch if change != watchfiles.Change.deleted]
                if not added:
                    continue  # a consumed request file going away is not news
                with self._lock:
                    self._reasons.update(Path(path).parent.name for path in added)
                    self.wakes += 1
                self._event.set()
        except Exception as exc:  # noqa: BLE001 - any watcher failure degrades to the interval, loudly
            self.error = f"{type(exc).__name__}: {exc}"
            self._ready.set()

    def poke(self, reason: str = "poke") -> None:
        """Wake the waiting driver from this process (e.g. a signal handler asking it to stop)."""
        with self._lock:
            self._reasons.add(reason)
        self._event.set()

    def wait(self, timeout: float) -> set[str]:
        """Sleep up to `timeout` seconds or until something changed; returns what changed (the
        names of the folders: "hooks", "requests", "wake", "launch"; empty on a timeout)."""
        deadline = time.monotonic() + timeout
        self._event.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            reasons, self._reasons = self._reasons, set()
            self._event.clear()
        self.last_reasons = reasons
        return reasons

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            self._thread = None
