"""The event log: every watchdog action as a JSON line in `<log_dir>/events.jsonl` and a
readable line in `<log_dir>/watchdog.log`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def iso(ts: float) -> str:
    """Epoch seconds as an ISO-8601 UTC string (seconds precision)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventLog:
    """Appends events; each is `{"ts": epoch, "agent", "action", "reason", **details}`."""

    def __init__(self, log_dir: Path) -> None:
        self.jsonl = Path(log_dir) / "events.jsonl"
        self.human = Path(log_dir) / "watchdog.log"

    def emit(self, agent: str, action: str, reason: str, ts: float | None = None, **details: Any) -> dict[str, Any]:
        """Append one event to both logs and return it."""
        ts = time.time() if ts is None else ts
        event = {"ts": ts, "agent": agent, "action": action, "reason": reason, **details}
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with self.jsonl.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, default=str) + "\n")
        extra = " ".join(f"{k}={v}" for k, v in details.items() if v not in (None, "", [], {}))
        with self.human.open("a", encoding="utf-8") as fh:
            fh.write(f"{iso(ts)} {agent or '-'} {action}: {reason}{(' ' + extra) if extra else ''}\n")
        return event


def read_events(log_dir: Path) -> Iterator[dict[str, Any]]:
    """Every event recorded so far (a torn last line is skipped)."""
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
