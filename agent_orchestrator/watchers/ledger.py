"""The decision ledger `<log_dir>/decisions.jsonl` (DESIGN §8): where every watcher's decisions go.

An idempotent append under an fcntl lock (an id already there is a no-op, also across
processes), and resolution records appended beside the decisions: history is never rewritten.
The records themselves (`Decision`, `Flag`) are `watchers/decisions.py`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.watchers.decisions import Decision, Flag

LEDGER_FILE = "decisions.jsonl"
_LOCK_FILE = ".decisions.lock"


class DecisionLedger:
    """`<log_dir>/decisions.jsonl`: decisions and resolutions as JSON lines, append-only.

    Writers hold an exclusive flock on `<log_dir>/.decisions.lock` while they read what others
    appended and append their own line, so "is this id new?" and the append are one step across
    processes. Readers need no lock: only complete lines are read, a torn last line waits for the
    next read. The file is read incrementally (from the last offset), so a long-lived watcher pays
    only for what was appended since its previous look. Writes raise OSError when the folder or
    file cannot be written.
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
        """Close the flag `decision` (a full id) with a resolution record (`resolved_at` = `now`,
        epoch seconds, default the clock) and return it; None when it was already closed (nothing
        written). Raises KeyError for an id that is not in the ledger."""
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
        """Decisions whose id starts with `prefix` (a full id or an unambiguous short one; any case)."""
        self._refresh()
        prefix = prefix.strip().lower()
        return [d for i, d in self._decisions.items() if prefix and i.startswith(prefix)]


def open_counts(ledger: DecisionLedger) -> dict[str, int]:
    """Open flags per watcher (hosting agent name → count); watchers with none are absent."""
    counts: dict[str, int] = {}
    for flag in ledger.flags(open_only=True):
        counts[flag.decision.watcher] = counts.get(flag.decision.watcher, 0) + 1
    return counts
