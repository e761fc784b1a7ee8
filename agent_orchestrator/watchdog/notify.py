"""Notifications: tell a person when the team needs one (`[notify]` in agents.toml).

Every event goes through `EventLog.emit`; the watchdog gives its event log a `Notifier` as a
listener (`EventLog.notify_with`). The listener only filters (the event's kind is in
`[notify].on`), rate-limits (at most one per kind and agent per `min_interval` seconds; the
others are counted and the next one carries `suppressed`) and queues: it never blocks the tick.
A background thread sends each notification — the event as one JSON object on the stdin of
`cmd` (an argv list, run in the config's folder, never through a shell) and/or as the body of an
HTTP POST to `url` — retrying a failed channel up to `retries` attempts with a doubling
`retry_delay`; each failed attempt is a `notify-failed` event, a delivered one a `notify-sent`
event. The settings are read from the watchdog's current config at each event, so an edit of
`[notify]` takes effect at the next reload.

The JSON is the event as `events.jsonl` has it (`ts`, `agent`, `action`, `reason`, details) plus
`kind` (= `action`), `project` (the config path), `session_prefix`, `time` (ISO-8601 UTC) and
`suppressed` (how many of this kind and agent the rate limit held back since the last one).
"""

from __future__ import annotations

import atexit
import json
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_orchestrator import __version__

if TYPE_CHECKING:
    from agent_orchestrator.config.schema import Config, NotifyConfig
    from agent_orchestrator.watchdog.events import EventLog

QUEUE_SIZE = 100  # notifications waiting at most; more are dropped (and said so) rather than piling up
CLOSE_WAIT = 5.0  # seconds a stopping watchdog gives queued notifications to go out


class Notifier:
    """The `[notify]` listener of one event log.

    `config` returns the config in force (its `notify` may be None: then nothing is sent);
    `events` is where failures and deliveries are logged; `clock` gives epoch seconds for events
    without `ts`; `wait(seconds)` is the pause between retries (returns early when closing).
    """

    def __init__(self, config: Callable[[], Config], events: EventLog, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.events = events
        self.clock = clock
        self._queue: queue.Queue[tuple[dict[str, Any], NotifyConfig, Path] | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the listener (the emitting thread: quick, never blocks) -----------------------------
    def listen(self, event: dict[str, Any]) -> None:
        """Queue a notification for `event` when `[notify].on` names its kind and the rate limit
        lets it through."""
        config = self.config()
        notify = config.notify
        kind = str(event.get("action", ""))
        if notify is None or kind not in notify.on or self._closing.is_set():
            return
        key = (kind, str(event.get("agent", "")))
        ts = float(event.get("ts") or self.clock())
        with self._lock:
            last = self._last.get(key)
            if last is not None and ts - last < notify.min_interval:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = ts
            held = self._held.pop(key, 0)
        from agent_orchestrator.watchdog.events import iso

        payload = {**event, "kind": kind, "project": str(config.path), "session_prefix": config.defaults.session_prefix,
                   "time": iso(ts), "suppressed": held}
        try:
            self._queue.put_nowait((payload, notify, config.root))
        except queue.Full:
            self.events.emit(key[1], "notify-failed", f"{kind}: dropped, {QUEUE_SIZE} notifications are waiting already", self.clock())
            return
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ao-notify", daemon=True)
                self._thread.start()
                atexit.register(self.close)

    # -- the sender (the background thread) --------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.send(*item)
            except Exception as exc:  # noqa: BLE001 - the sender must outlive any one notification
                self.events.emit("", "notify-failed", f"{type(exc).__name__}: {exc}", self.clock())
            finally:
                self._queue.task_done()

    def send(self, payload: dict[str, Any], notify: NotifyConfig, cwd: Path) -> bool:
        """Send one notification on every configured channel, retrying each failed one up to
        `notify.retries` attempts in all; True when every channel took it."""
        body = json.dumps(payload, default=str).encode()
        pending = [c for c, on in (("cmd", bool(notify.cmd)), ("url", bool(notify.url))) if on]
        agent, kind = str(payload.get("agent", "")), str(payload.get("kind", ""))
        delay = notify.retry_delay
        for attempt in range(1, notify.retries + 1):
            failed = []
            for channel in pending:
                error = self._run_cmd(notify, body, cwd) if channel == "cmd" else self._post(notify, body, payload)
                if error is None:
                    self.events.emit(agent, "notify-sent", f"{kind} via {channel}", self.clock(), channel=channel, attempt=attempt)
                else:
                    failed.append(channel)
                    last = attempt == notify.retries or self._closing.is_set()
                    self.events.emit(agent, "notify-failed", f"{kind} via {channel}: {error}" + ("; giving up" if last else f"; retry in {delay:g}s"),
                                     self.clock(), channel=channel, attempt=attempt, attempts=notify.retries)
            pending = failed
            if not pending:
                return True
            if attempt == notify.retries or self._closing.wait(delay):
                return False
            delay *= 2
        return not pending

    @staticmethod
    def _run_cmd(notify: NotifyConfig, body: bytes, cwd: Path) -> str | None:
        try:
            done = subprocess.run(notify.cmd, input=body, cwd=cwd, capture_output=True, timeout=notify.timeout, check=False)
        except FileNotFoundError:
            return f"{notify.cmd[0]!r} not found"
        except subprocess.TimeoutExpired:
            return f"{notify.cmd[0]!r} did not finish within {notify.timeout:g}s"
        except OSError as exc:
            return f"{notify.cmd[0]!r}: {exc.strerror}"
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()
            return f"{notify.cmd[0]!r} exited {done.returncode}" + (f": {tail[-1][:200]}" if tail else "")
        return None

    @staticmethod
    def _post(notify: NotifyConfig, body: bytes, payload: dict[str, Any]) -> str | None:
        title = f"agents: {payload.get('kind', '')}" + (f" {payload['agent']}" if payload.get("agent") else "")
        request = urllib.request.Request(notify.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"agent-orchestrator/{__version__}",
            "Title": title.encode("ascii", "replace").decode(),  # ntfy shows it as the title; others ignore it
        })
        try:
            with urllib.request.urlopen(request, timeout=notify.timeout) as response:  # http(s) only: load.py checks the URL
                response.read(1024)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{getattr(exc, 'reason', exc)}"
        return None

    # -- stopping --------------------------------------------------------------------------
    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Stop taking notifications; give the queued ones up to `timeout` seconds to go out
        (without further retries)."""
        self._closing.set()
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        thread.join(timeout)

    def idle(self) -> bool:
        """True when nothing is queued or being sent (tests wait on it)."""
        return self._queue.unfinished_tasks == 0
