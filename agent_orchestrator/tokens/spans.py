"""What the token ledger holds open between records, and how a dated entry finds its bucket.

Pure data and functions (no I/O): `tokens.ledger.Ledger` reads the transcripts, keeps a `Spans`
in `<log_dir>/state/tokens.json` (`to_json` / `from_json`, shape-checked) and appends the records
built here to `token-log.jsonl`.

An entry is (time, agent, tokens): one transcript record's tokens dated by the record itself
(epoch seconds; `TranscriptScanner.read_dated`). It belongs to the phase open at its time and to
the gate whose boundary is the last at or before its time:

- a phase spans [its start, the end of the observation that advanced or completed it); entries
  stamped before the end of the last recorded phase are already in a record and are dropped;
- a gate spans [its boundary, the next gate's boundary or the phase's end); entries before the
  phase's first boundary belong to the phase only (`tokens.claims` decides a boundary).

Entries stay in `timeline` (unfolded) while a boundary could still move them — until they are
`FOLD_AFTER` seconds old and older than every claim whose boundary is not settled — and are then
added to the folded per-agent sums of their phase and gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_orchestrator.tokens.claims import Claim
from agent_orchestrator.tokens.usage import Usage

VERSION = 2
#: Seconds an entry stays unfolded (a claim seen later than this after its commit cannot move
#: tokens already folded into the gate before it).
FOLD_AFTER = 600.0

#: (time in epoch seconds, agent, tokens)
Entry = tuple[float, str, Usage]
Sums = dict[str, Usage]


@dataclass
class PhaseSpan:
    """The open phase: `phase_id`, its start (epoch) and the tokens folded into it per agent."""

    phase_id: str
    started: float
    agents: Sums = field(default_factory=dict)


@dataclass
class GateSpan:
    """An open gate of the open phase. `started` is its boundary (epoch): final when `settled`,
    else provisional (the end of its claim's git second). `source` says what decided it:
    "transcript", "git", or "tick" (no claim known: the watchdog's tick or the last record)."""

    gate: str
    phase_id: str
    started: float
    settled: bool
    source: str
    claim: Claim | None = None
    agents: Sums = field(default_factory=dict)


@dataclass
class Closing:
    """A phase close under way (written before its records, finished by a restarted ledger):
    `phase_id` ends at `at` (epoch); with `successor` a next phase starts there. `due` (epoch,
    or None: at once) is when its records are appended: until then entries read late but stamped
    before `at` still join the phase (`Ledger.close_phase`'s `settle`)."""

    phase_id: str
    at: float
    successor: bool
    due: float | None = None


@dataclass
class Spans:
    """Everything open: the phase, its gates (boundary order; all but the last wait for the
    next one's boundary to settle before their record), the unfolded entries, and how far the
    log holds records (`recorded_phase` / `recorded_gate`: the latest `ended`, epoch). After a
    phase closed with a successor, `next_start` is where the next one begins and `timeline`
    holds its first entries."""

    phase: PhaseSpan | None = None
    gates: list[GateSpan] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)
    recorded_phase: float | None = None
    recorded_gate: float | None = None
    next_start: float | None = None
    closing: Closing | None = None

    # -- routing -------------------------------------------------------------------------------
    def gate_at(self, ts: float) -> int | None:
        """Index of the gate `ts` belongs to (None: before the first boundary, or recorded)."""
        if self.recorded_gate is not None and ts < self.recorded_gate:
            return None
        found = None
        for i, g in enumerate(self.gates):
            if g.started <= ts:
                found = i
        return found

    def phase_sums(self, before: float | None = None) -> Sums:
        """The open phase's tokens per agent: folded, plus unfolded entries (stamped before
        `before` when given)."""
        sums = dict(self.phase.agents) if self.phase is not None else {}
        return _add(sums, ((a, u) for ts, a, u in self.timeline if before is None or ts < before))

    def gate_sums(self, i: int, end: float | None = None) -> Sums:
        """Gate `i`'s tokens per agent: folded, plus unfolded entries routed to it (and stamped
        before `end` when given)."""
        return _add(dict(self.gates[i].agents), ((a, u) for ts, a, u in self.timeline
                                                 if self.gate_at(ts) == i and (end is None or ts < end)))

    def fold(self, cutoff: float) -> bool:
        """Fold the entries stamped before `cutoff` (epoch) — never past a claim whose boundary
        is not settled — into the phase and gate sums. True when something was folded."""
        if self.phase is None:
            return False
        pending = [g.claim.committed for g in self.gates if not g.settled and g.claim is not None]
        if self.closing is not None:
            pending.append(self.closing.at)  # what is stamped after a close is the next phase's
        cutoff = min([cutoff, *pending])
        keep: list[Entry] = []
        folded = False
        for entry in self.timeline:
            ts, agent, usage = entry
            if ts >= cutoff:
                keep.append(entry)
                continue
            folded = True
            _add(self.phase.agents, [(agent, usage)])
            i = self.gate_at(ts)
            if i is not None:
                _add(self.gates[i].agents, [(agent, usage)])
        self.timeline = keep
        return folded


def _add(sums: Sums, items: Iterable[tuple[str, Usage]]) -> Sums:
    for agent, usage in items:
        sums[agent] = sums[agent] + usage if agent in sums else usage
    return sums


def record(phase_id: str, gate: str | None, started: float, ended: float, agents: Mapping[str, Usage], *,
           opened_by: str | None = None) -> dict[str, Any]:
    """A `token-log.jsonl` record: ``{"id", "phase_id" ("p1" or "p1:G2"), "gate", "started",
    "ended" (epoch), "duration_s", "agents": {name: {input, output, cache_read, cache_write,
    total}}, "total"}``, and for a gate ``opened_by`` (what decided its boundary). ``id`` —
    ``<phase_id>@<started>`` — makes appending it idempotent."""
    total = sum(agents.values(), Usage())
    out: dict[str, Any] = {
        "id": record_id(phase_id, started),
        "phase_id": phase_id,
        "gate": gate,
        "started": started,
        "ended": ended,
        "duration_s": round(ended - started, 3),
        "agents": {name: u.to_dict() for name, u in agents.items() if u},
        "total": total.to_dict(),
    }
    if opened_by is not None:
        out["opened_by"] = opened_by
    return out


def record_id(phase_id: str, started: float) -> str:
    """The idempotency key of a record: its phase id (with `:gate`) and start, to the millisecond."""
    return f"{phase_id}@{started:.3f}"


def live(s: Spans) -> list[dict[str, Any]]:
    """The open phase and gates of `s`, shaped like records with `ended` None."""
    out = []
    if s.phase is not None:
        out.append({**record(s.phase.phase_id, None, s.phase.started, s.phase.started, s.phase_sums()), "ended": None,
                    "duration_s": None})
    for i, g in enumerate(s.gates):
        end = s.gates[i + 1].started if i + 1 < len(s.gates) else None
        out.append({**record(f"{g.phase_id}:{g.gate}", g.gate, g.started, g.started, s.gate_sums(i, end), opened_by=g.source),
                    "ended": None, "duration_s": None})
    return out



# -- JSON ------------------------------------------------------------------------------------------
def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A state file written before dated entries (one open phase and one open gate, no version)
    in today's shape: the gate opened when that ledger saw it."""
    if "version" in data or not set(data) <= {"scanner", "phase", "gate", "known"}:
        return data
    phase, gate = data.get("phase"), data.get("gate")
    for name, bucket in (("phase", phase), ("gate", gate)):
        if bucket is not None and not isinstance(bucket, dict):
            raise ValueError(f"{name}: expected an object or null, got {bucket!r:.40}")
    gates = []
    if isinstance(gate, dict) and isinstance(phase, dict):
        gates.append({"gate": gate.get("gate"), "phase_id": gate.get("phase_id"), "started": gate.get("started"),
                      "settled": True, "source": "tick", "claim": None, "agents": gate.get("agents", {})})
    return {**data, "version": 2, "gates": gates, "timeline": [], "recorded": {}, "next_start": None, "closing": None}


def to_json(spans: Spans) -> dict[str, Any]:
    """`spans` as JSON-ready data (the ledger adds its scanner state and known files)."""
    def sums(s: Sums) -> dict[str, Any]:
        return {n: u.to_dict() for n, u in s.items()}

    return {
        "version": VERSION,
        "phase": None if spans.phase is None else {"phase_id": spans.phase.phase_id, "started": spans.phase.started,
                                                   "agents": sums(spans.phase.agents)},
        "gates": [{"gate": g.gate, "phase_id": g.phase_id, "started": g.started, "settled": g.settled, "source": g.source,
                   "claim": None if g.claim is None else {"label": g.claim.label, "sha": g.claim.sha, "subject": g.claim.subject,
                                                          "committed": g.claim.committed},
                   "agents": sums(g.agents)} for g in spans.gates],
        "timeline": [[ts, a, u.input, u.output, u.cache_read, u.cache_write] for ts, a, u in spans.timeline],
        "recorded": {"phase": spans.recorded_phase, "gate": spans.recorded_gate},
        "next_start": spans.next_start,
        "closing": None if spans.closing is None else {"phase_id": spans.closing.phase_id, "at": spans.closing.at,
                                                       "successor": spans.closing.successor, "due": spans.closing.due},
    }


def from_json(data: Mapping[str, Any]) -> Spans:
    """The `Spans` of a `to_json` payload. Raises ValueError naming the first bad key."""
    if data.get("version") != VERSION:
        raise ValueError(f"version: expected {VERSION}, got {data.get('version')!r}")
    phase = _opt(data, "phase", _phase)
    gates = [_gate(g, f"gates[{i}]") for i, g in enumerate(_list(data, "gates"))]
    timeline = [_entry(e, f"timeline[{i}]") for i, e in enumerate(_list(data, "timeline"))]
    recorded = data.get("recorded", {})
    if not isinstance(recorded, dict):
        raise ValueError(f"recorded: expected an object, got {recorded!r:.40}")
    closing = _opt(data, "closing", lambda c, k: Closing(_str(c, "phase_id", k), _num(c, "at", k), _bool(c, "successor", k),
                                                         _opt_num(c, "due", k)))
    return Spans(phase, gates, timeline, _opt_num(recorded, "phase", "recorded"), _opt_num(recorded, "gate", "recorded"),
                 _opt_num(data, "next_start", ""), closing)


def _phase(d: Any, key: str) -> PhaseSpan:
    return PhaseSpan(_str(d, "phase_id", key), _num(d, "started", key), _sums(d.get("agents", {}), f"{key}.agents"))


def _gate(d: Any, key: str) -> GateSpan:
    if not isinstance(d, dict):
        raise ValueError(f"{key}: expected an object, got {d!r:.40}")
    claim = _opt(d, "claim", lambda c, k: Claim(_str(c, "label", k), _str(c, "sha", k), _str(c, "subject", k), _num(c, "committed", k)),
                 key)
    return GateSpan(_str(d, "gate", key), _str(d, "phase_id", key), _num(d, "started", key), _bool(d, "settled", key),
                    _str(d, "source", key), claim, _sums(d.get("agents", {}), f"{key}.agents"))


def _entry(e: Any, key: str) -> Entry:
    if not (isinstance(e, list) and len(e) == 6 and isinstance(e[1], str)):
        raise ValueError(f"{key}: expected [time, agent, input, output, cache_read, cache_write], got {e!r:.60}")
    ts = _finite(e[0], key)
    try:
        return ts, e[1], Usage.from_dict(dict(zip(("input", "output", "cache_read", "cache_write"), e[2:], strict=True)))
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _sums(d: Any, key: str) -> Sums:
    if not isinstance(d, dict):
        raise ValueError(f"{key}: expected an object, got {d!r:.40}")
    out = {}
    for name, u in d.items():
        if not isinstance(u, dict):
            raise ValueError(f"{key}.{name}: expected an object, got {u!r:.40}")
        try:
            out[str(name)] = Usage.from_dict(u)
        except ValueError as exc:
            raise ValueError(f"{key}.{name}: {exc}") from None
    return out


def _opt(d: Mapping[str, Any], name: str, make: Any, where: str = "") -> Any:
    key = f"{where}.{name}" if where else name
    value = d.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected an object or null, got {value!r:.40}")
    return make(value, key)


def _list(d: Mapping[str, Any], name: str) -> list[Any]:
    value = d.get(name, [])
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected a list, got {value!r:.40}")
    return value


def _str(d: Mapping[str, Any], name: str, key: str) -> str:
    value = d.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{key}.{name}: expected a string, got {value!r:.40}")
    return value


def _bool(d: Mapping[str, Any], name: str, key: str) -> bool:
    value = d.get(name)
    if not isinstance(value, bool):
        raise ValueError(f"{key}.{name}: expected true or false, got {value!r:.40}")
    return value


def _num(d: Mapping[str, Any], name: str, key: str) -> float:
    return _finite(d.get(name), f"{key}.{name}")


def _opt_num(d: Mapping[str, Any], name: str, key: str) -> float | None:
    value = d.get(name)
    return None if value is None else _finite(value, f"{key}.{name}" if key else name)


def _finite(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key}: expected a time in epoch seconds, got {value!r:.40}")
    return float(value)
