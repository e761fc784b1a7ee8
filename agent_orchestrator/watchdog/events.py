"""The event log: every watchdog action as a JSON line in `<log_dir>/events.jsonl` and a
readable line in `<log_dir>/watchdog.log`.

`EventLog.emit` is the one place every event goes through, so it is also where listeners hear
them: the watchdog's `[notify]` notifier (`watchdog.notify`, attached with `notify_with`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_orchestrator.runtime.folders import SHARED, ensure_dir

if TYPE_CHECKING:
    from agent_orchestrator.config.schema import Config

Listener = Callable[[dict[str, Any]], None]
LOG_MODE = 0o644  # events.jsonl and watchdog.log: readable logs, written by the watchdog only


def iso(ts: float) -> str:
    """Epoch seconds as an ISO-8601 UTC string (seconds precision)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventLog:
    """Appends events; each is `{"ts": epoch, "agent", "action", "reason", **details}`.

    `listeners` are called with each event after it is written, in the emitting thread; they
    must return quickly (queue, don't send) and a failing one costs neither the event nor the
    caller. Safe to emit from several threads (the notifier logs from its own).
    """

    def __init__(self, log_dir: Path, listeners: Iterable[Listener] = ()) -> None:
        self.jsonl = Path(log_dir) / "events.jsonl"
        self.human = Path(log_dir) / "watchdog.log"
        self.listeners: list[Listener] = list(listeners)
        self._lock = threading.Lock()

    def emit(self, agent: str, action: str, reason: str, ts: float | None = None, **details: Any) -> dict[str, Any]:
        """Append one event to both logs, tell the listeners, and return it."""
        ts = time.time() if ts is None else ts
        event = {"ts": ts, "agent": agent, "action": action, "reason": reason, **details}
        extra = " ".join(f"{k}={v}" for k, v in details.items() if v not in (None, "", [], {}))
        with self._lock:
            ensure_dir(self.jsonl.parent, SHARED)
            append_line(self.jsonl, json.dumps(event, default=str))
            append_line(self.human, f"{iso(ts)} {agent or '-'} {action}: {reason}{(' ' + extra) if extra else ''}")
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must never cost the event or the tick that emitted it
                pass
        return event

    def notify_with(self, config: Callable[[], Config]) -> None:
        """Send `[notify]` notifications for this log's events; `config` returns the config in
        force at each event (so an edited `[notify]` applies from the next reload)."""
        from agent_orchestrator.watchdog.notify import Notifier

        self.listeners.append(Notifier(config, self).listen)


def append_line(path: Path, line: str) -> None:
    """Append `line` and a newline to `path` in one write (created mode 0o644 whatever the umask).

    A file that does not end with a newline — a writer killed in the middle of a line — gets one
    first, so the torn line stays alone (readers skip it) and never swallows this one.
    """
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, LOG_MODE)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        if end > 0 and os.pread(fd, 1, end - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def read_events(log_dir: Path) -> Iterator[dict[str, Any]]:
    """Every event recorded so far (a torn line — a writer killed mid-line — is skipped)."""
    path = Path(log_dir) / "events.jsonl"
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
    except FileNotFoundError:
        return
