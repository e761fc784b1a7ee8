"""The token ledger: `<log_dir>/token-log.jsonl`, one record per phase and per claimed gate.

Every signal tick the watchdog calls `poll`: the transcript scanner reads what each agent's
transcripts gained since the last tick (incremental by byte offset, so a tick costs what was
appended) and adds it to the open phase bucket and the open gate bucket. `close_gate` (a new
claim label) and `close_phase` (the phase advanced; the gate in flight is closed first) append
records. Offsets and open buckets live in `<log_dir>/state/tokens.json`, saved atomically after
every poll, so a restarted watchdog neither loses nor double-counts tokens.

Record: `{"phase_id": "p1" | "p1:G2", "gate": null | "G2", "started", "ended" (epoch),
"duration_s", "agents": {name: {input, output, cache_read, cache_write, total}}, "total"}`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_orchestrator.tokens.scanner import TranscriptScanner
from agent_orchestrator.tokens.usage import Usage
from agent_orchestrator.transcripts.reader import mtime

# (kind, path) pairs of an agent's transcript files; kind is "claude" or "codex".
FilesOf = Callable[[str], list[tuple[str, Path]]]


def _empty_bucket(now: float) -> dict[str, Any]:
    return {"started": now, "agents": {}}


class Ledger:
    """Token accounting for one project. `files_of(agent)` lists an agent's transcripts.

    `granularity` is "gate" (records per gate and per phase) or "phase". Times are epoch seconds.
    """

    def __init__(self, log_dir: Path, agents: list[str], files_of: FilesOf, granularity: str = "gate") -> None:
        self.log_dir = Path(log_dir)
        self.agents = agents
        self.files_of = files_of
        self.granularity = granularity
        self.path = self.log_dir / "token-log.jsonl"
        self.state_path = self.log_dir / "state" / "tokens.json"
        saved = self._load()
        self.scanner = TranscriptScanner.from_state(saved["scanner"]) if saved.get("scanner") else TranscriptScanner()
        self.phase: dict[str, Any] | None = saved.get("phase")
        self.gate: dict[str, Any] | None = saved.get("gate")
        self.known: set[str] = set(saved.get("known") or [])
        self._saved_at = (self.scanner.bytes_read, len(self.known))

    # -- persistence -------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self) -> None:
        """Write offsets and open buckets atomically."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"scanner": self.scanner.to_state(), "phase": self.phase, "gate": self.gate, "known": sorted(self.known)}
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".tokens-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(payload))  # one write: json.dump's many small writes are ~10x slower
        os.replace(tmp, self.state_path)
        self._saved_at = (self.scanner.bytes_read, len(self.known))

    # -- reading -------------------------------------------------------------------------------
    def poll(self, now: float, phase_id: str | None, gate: str | None, since: float | None = None) -> dict[str, Usage]:
        """Read what every agent's transcripts gained and add it to the open buckets.

        A transcript first seen with a modification time before `since` (epoch; the start of
        the run) is history from an earlier run: it is read to its end without being charged.
        Returns the per-agent deltas of this poll.
        """
        deltas: dict[str, Usage] = {}
        for agent in self.agents:
            total = Usage()
            for kind, path in self.files_of(agent):
                key = str(path)
                history = key not in self.known and since is not None and mtime(path) < since
                self.known.add(key)
                if history and kind == "claude":
                    self.scanner.skip_claude(path)  # an earlier run's transcript: start at its end
                    continue
                if kind == "claude":
                    usage = self.scanner.read_claude(path)
                elif kind == "codex":
                    usage = self.scanner.read_codex(path)[0]
                else:
                    continue
                if not history:
                    total = total + usage
            if total.total:
                deltas[agent] = total
        opened = False
        if phase_id is not None:
            if self.phase is not None and self.phase.get("phase_id") != phase_id:
                self.close_phase(now, self.phase["phase_id"])  # moved on without a close (a phase verb, a crash)
            if self.phase is None:
                self.phase, opened = {**_empty_bucket(now), "phase_id": phase_id}, True
            _add(self.phase, deltas)
            if self.granularity == "gate" and gate is not None:
                if self.gate is None or self.gate.get("gate") != gate:
                    self.gate, opened = {**_empty_bucket(now), "phase_id": phase_id, "gate": gate}, True
                _add(self.gate, deltas)
        if deltas or opened or self._saved_at != (self.scanner.bytes_read, len(self.known)) or not self.state_path.exists():
            self.save()  # an idle tick (nothing appended) rewrites nothing
        return deltas

    # -- records -------------------------------------------------------------------------------
    def close_gate(self, now: float, phase_id: str | None, label: str | None) -> dict[str, Any] | None:
        """Append the record of the open gate (if it is `label`, or any when label is None)."""
        if self.gate is None or (label is not None and self.gate.get("gate") != label):
            return None
        bucket, self.gate = self.gate, None
        record = self._record(f"{bucket['phase_id']}:{bucket['gate']}", bucket["gate"], bucket, now)
        self.save()
        return record

    def close_phase(self, now: float, phase_id: str) -> list[dict[str, Any]]:
        """Close the gate in flight, then append the phase's record."""
        records = []
        gate = self.close_gate(now, phase_id, None)
        if gate is not None:
            records.append(gate)
        bucket = self.phase if self.phase and self.phase.get("phase_id") == phase_id else {**_empty_bucket(now), "phase_id": phase_id}
        self.phase = None
        records.append(self._record(phase_id, None, bucket, now))
        self.save()
        return records

    def _record(self, phase_id: str, gate: str | None, bucket: dict[str, Any], now: float) -> dict[str, Any]:
        agents = {name: Usage.from_dict(u).to_dict() for name, u in bucket.get("agents", {}).items()}
        total = sum((Usage.from_dict(u) for u in bucket.get("agents", {}).values()), Usage())
        record = {
            "phase_id": phase_id,
            "gate": gate,
            "started": bucket.get("started", now),
            "ended": now,
            "duration_s": round(now - bucket.get("started", now), 3),
            "agents": agents,
            "total": total.to_dict(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        return record

    def open_ids(self) -> tuple[str | None, str | None]:
        """(phase id, gate label) of the open buckets (None where none is open)."""
        return (self.phase or {}).get("phase_id"), (self.gate or {}).get("gate")

    def live(self) -> list[dict[str, Any]]:
        """The open (not yet recorded) phase and gate buckets, shaped like records."""
        out = []
        for bucket, gate in ((self.phase, None), (self.gate, (self.gate or {}).get("gate"))):
            if bucket:
                total = sum((Usage.from_dict(u) for u in bucket.get("agents", {}).values()), Usage())
                pid = bucket["phase_id"] if gate is None else f"{bucket['phase_id']}:{gate}"
                out.append({"phase_id": pid, "gate": gate, "started": bucket.get("started"), "ended": None,
                            "agents": {n: Usage.from_dict(u).to_dict() for n, u in bucket.get("agents", {}).items()},
                            "total": total.to_dict()})
        return out


def _add(bucket: dict[str, Any], deltas: dict[str, Usage]) -> None:
    agents = bucket.setdefault("agents", {})
    for name, usage in deltas.items():
        agents[name] = (Usage.from_dict(agents[name]) + usage).to_dict() if name in agents else usage.to_dict()


def read_ledger(log_dir: Path) -> list[dict[str, Any]]:
    """Every record in `<log_dir>/token-log.jsonl` (a torn last line is skipped)."""
    path = Path(log_dir) / "token-log.jsonl"
    out = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    except FileNotFoundError:
        pass
    return out


def open_buckets(log_dir: Path) -> list[dict[str, Any]]:
    """The running phase and gate from `<log_dir>/state/tokens.json`, shaped like records."""
    ledger = Ledger.__new__(Ledger)
    ledger.state_path = Path(log_dir) / "state" / "tokens.json"
    saved = ledger._load()
    ledger.phase, ledger.gate = saved.get("phase"), saved.get("gate")
    return ledger.live()
