"""The token ledger: `<log_dir>/token-log.jsonl`, one record per phase and per claimed gate.

Every signal tick the watchdog calls `poll`: the transcript scanner reads what each agent's
transcripts gained since the last tick (incrementally by byte offset, so a tick costs what was
appended), split into entries dated by each transcript record's own time. An entry is charged
to the phase and the gate that were open at that time (`tokens.spans`), not to the tick that read
it, so the same run gives the same rows however the ticks fall:

- a phase runs from its start to the end of the observation in which the watchdog saw it done
  with its loop agents' turns over (`Tick.phase_end`; or completed or moved by hand) — or to the
  newest of its loop agents' last replies, read once more right after their restart
  (`close_phase`). A turn's last reply is stamped before the Stop hook, status file or screen
  that showed the turn over, and that witness was read before the observation ended, so the
  reply is the phase's however late in the tick the witness was read. Its records wait
  `PHASE_SETTLE` seconds, so a record stamped before that end but written (or read) a moment
  after it — Claude Code can write a turn's last line as the old session exits — still counts;
- a gate runs from its claim's boundary (`tokens.claims`: the first tool result reporting the
  claim commit, or the end of its git second) to the next gate's boundary or the phase's end.

`close_gate` appends a gate's record once the next boundary is settled (`ready_gates`),
`close_phase` the phase's (its gates first). Offsets, open spans and unfolded entries live in
`<log_dir>/state/tokens.json`, saved atomically after every change.

Crash consistency: records carry an id (`spans.record_id`) and appending one whose id the log
already holds is a no-op; a phase close is written down before its records (`Spans.closing`) and
finished by the next ledger. A state file that is not JSON or of the wrong shape is set aside as
`tokens.json.corrupt` (`problem` says so, for the event) and rebuilt: the transcripts are read
again from the start and every entry stamped before the end of the last recorded phase (or gate)
in `token-log.jsonl` is skipped — nothing is counted twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_orchestrator.tokens.claims import Claim, boundary
from agent_orchestrator.tokens.scanner import TranscriptScanner
from agent_orchestrator.tokens.spans import (
    FOLD_AFTER,
    Closing,
    Entry,
    GateSpan,
    PhaseSpan,
    Spans,
    from_json,
    live,
    record,
    record_id,
    to_json,
    upgrade,
)
from agent_orchestrator.tokens.usage import Usage
from agent_orchestrator.transcripts.reader import mtime

# (kind, path) pairs of an agent's transcript files; kind is "claude" or "codex".
FilesOf = Callable[[str], list[tuple[str, Path]]]

#: Seconds a phase's records wait after its close (the watchdog's `settle`): transcript records
#: stamped before the close and read within this time still count for the phase.
PHASE_SETTLE = 10.0


class Ledger:
    """Token accounting for one project. `files_of(agent)` lists an agent's transcripts.

    `granularity` is "gate" (records per gate and per phase) or "phase". Times are epoch seconds.
    `problem` is "" or why the saved state was set aside and rebuilt (one line, for an event).
    """

    def __init__(self, log_dir: Path, agents: list[str], files_of: FilesOf, granularity: str = "gate") -> None:
        self.log_dir = Path(log_dir)
        self.agents = agents
        self.files_of = files_of
        self.granularity = granularity
        self.path = self.log_dir / "token-log.jsonl"
        self.state_path = self.log_dir / "state" / "tokens.json"
        self.problem = ""
        self.scanner = TranscriptScanner()
        self.known: set[str] = set()
        self.spans = Spans()
        self._saved = ""
        self._changes = 0  # bumped by every change of the spans a poll makes (an idle poll saves nothing)
        self._last_read: float | None = None  # the newest entry the last poll charged (epoch)
        self._load()
        self._ids: set[str] = set()
        self._phase_totals: list[tuple[float, int]] = []  # (ended, total) of recorded phases
        for rec in read_ledger(self.log_dir):
            self._remember(rec)
        self._reconcile()

    # -- persistence -------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"{self.state_path}: cannot read: {exc.strerror}"
            return
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            data = upgrade(data)
            saved = data.get("scanner")
            if saved is not None and not isinstance(saved, dict):
                raise ValueError(f"scanner: expected an object, got {saved!r:.40}")
            scanner = TranscriptScanner.from_state(saved) if saved else TranscriptScanner()
            known = data.get("known") or []
            if not isinstance(known, list) or not all(isinstance(k, str) for k in known):
                raise ValueError("known: expected a list of paths")
            spans = from_json(data)
        except (ValueError, OverflowError) as exc:  # JSONDecodeError too; OverflowError: an `Infinity` offset
            aside = self.state_path.with_name(self.state_path.name + ".corrupt")
            os.replace(self.state_path, aside)
            self.problem = (f"{self.state_path}: {exc} (kept as {aside.name}); rebuilt from the transcripts, "
                            f"skipping what {self.path.name} already records")
            return
        self.scanner, self.known, self.spans = scanner, set(known), spans

    def save(self) -> None:
        """Write offsets and open spans atomically (temp file + rename: a killed process leaves the
        old file or the new one; not fsynced, like the ledger before it, to keep ticks cheap),
        unless nothing changed since the last save."""
        payload = {"scanner": self.scanner.to_state(), "known": sorted(self.known), **to_json(self.spans)}
        text = json.dumps(payload)  # one write: json.dump's many small writes are ~10x slower
        if text == self._saved and self.state_path.exists():
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".tokens-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._saved = text

    def _remember(self, rec: dict[str, Any]) -> None:
        """Take a record of the log (or one just appended) into what the ledger knows."""
        ended = rec.get("ended")
        if isinstance(rec.get("id"), str):
            self._ids.add(rec["id"])
        if not isinstance(ended, (int, float)) or isinstance(ended, bool):
            return
        s = self.spans
        if rec.get("gate") is None:
            s.recorded_phase = max(s.recorded_phase or ended, ended)
            total = (rec.get("total") or {}).get("total", 0)
            self._phase_totals.append((float(ended), int(total) if isinstance(total, int) else 0))
        else:
            s.recorded_gate = max(s.recorded_gate or ended, ended)

    def _reconcile(self) -> None:
        """Finish a phase close a killed ledger left half done, and drop open spans whose record
        the log already holds (appended, then killed before the save)."""
        s = self.spans
        if s.closing is not None and (s.closing.due is None or self._close_begun()):
            self._finish_close()  # (a close still waiting for its `due`, none appended, is left to `poll`)
        if s.closing is None and s.phase is not None and record_id(s.phase.phase_id, s.phase.started) in self._ids:
            s.closing = Closing(s.phase.phase_id, s.recorded_phase or s.phase.started, True)
            self._finish_close()
        while s.gates and record_id(f"{s.gates[0].phase_id}:{s.gates[0].gate}", s.gates[0].started) in self._ids:
            s.gates.pop(0)
        if s.recorded_phase is not None:
            s.timeline = [e for e in s.timeline if e[0] >= s.recorded_phase]

    def _close_begun(self) -> bool:
        """Whether a record of the pending phase close (a gate's or the phase's) is in the log."""
        s = self.spans
        if s.phase is None or s.closing is None or s.phase.phase_id != s.closing.phase_id:
            return True
        ids = [record_id(f"{g.phase_id}:{g.gate}", g.started) for g in s.gates] + [record_id(s.phase.phase_id, s.phase.started)]
        return any(i in self._ids for i in ids)

    def _append(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Append `rec` to the log unless its id is there already; a torn last line (a write cut
        short) is ended first so it cannot swallow this record."""
        if rec["id"] in self._ids:
            return rec
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            torn = fh.tell() > 0 and _last_byte(self.path) != b"\n"
            fh.write((("\n" if torn else "") + json.dumps(rec) + "\n").encode("utf-8"))
        self._remember(rec)
        return rec

    # -- reading -------------------------------------------------------------------------------
    def poll(self, now: float, phase_id: str | None, gate: str | None, since: float | None = None, *,
             claim: Claim | None = None, phase_started: float | None = None, phase_end: float | None = None) -> dict[str, Usage]:
        """Read what every agent's transcripts gained and file it under the open phase and gates.

        `phase_id` / `gate` are what the watchdog has open (None: nothing to charge); `claim` is
        the claim commit of `gate` when known (its boundary is then searched in the transcripts
        once it can be settled; without one the gate opens now); `phase_started` is when the
        watchdog's current phase began (a phase opened here starts there, unless the last close
        said where; a different phase still open here ends there);
        `phase_end` is when the last phase completed (later entries belong to none). A
        transcript first seen with a modification time before `since` (epoch; the start of the
        run) is history from an earlier run: read to its end without being charged, as is any
        entry stamped before `since`. While a phase close waits for its `due` time, what is read
        joins the closing phase (stamped before its end) or the next one (after), and nothing
        else changes; the first poll at or after `due` appends its records, then goes on as
        usual. Returns the per-agent tokens this poll read.
        """
        s = self.spans
        before = (self.scanner.bytes_read, len(self.known), self._changes)
        if s.fold(now - FOLD_AFTER):
            self._changes += 1
        entries, deltas = self._read(now, since)
        if s.closing is not None:
            late = [e for e in entries if (s.recorded_phase is None or e[0] >= s.recorded_phase)
                    and (phase_end is None or e[0] < phase_end)]
            if late:
                s.timeline += late
                self._changes += 1
            entries = []
            if s.closing.due is not None and now < s.closing.due:
                if (self.scanner.bytes_read, len(self.known), self._changes) != before:
                    self.save()
                return deltas
            self._finish_close()
            self._changes += 1
        if phase_id is None:
            if s.phase is None and (s.timeline or s.next_start is not None):
                s.timeline, s.next_start = [], None  # nothing is open: nothing to charge
                self._changes += 1
        else:
            kept = [e for e in entries if (s.recorded_phase is None or e[0] >= s.recorded_phase) and (phase_end is None or e[0] < phase_end)]
            self._last_read = max((e[0] for e in kept), default=None)
            if s.phase is not None and s.phase.phase_id != phase_id:
                at = phase_started if phase_started is not None and phase_started > s.phase.started else now
                # Moved on without a close (a phase verb, a watchdog killed between the advance and
                # the close): what this poll read is filed first, so the entries stamped before
                # `at` — the old phase's last replies — are in its record (the rest carry over).
                if kept:
                    s.timeline += kept
                    kept = []
                self.close_phase(now, s.phase.phase_id, at)
            if s.phase is None:
                start = next(t for t in (s.next_start, phase_started, now) if t is not None)
                s.phase, s.next_start = PhaseSpan(phase_id, start), None
                self._changes += 1
            if kept:
                s.timeline += kept
                self._changes += 1
            if self.granularity == "gate" and gate is not None and (not s.gates or s.gates[-1].gate != gate):
                self._open_gate(now, phase_id, gate, claim)
        self._settle(now)
        if (self.scanner.bytes_read, len(self.known), self._changes) != before or not self.state_path.exists():
            self.save()  # an idle tick (nothing appended) rewrites nothing
        return deltas

    def _read(self, now: float, since: float | None) -> tuple[list[Entry], dict[str, Usage]]:
        entries: list[Entry] = []
        deltas: dict[str, Usage] = {}
        for agent in self.agents:
            for kind, path in self.files_of(agent):
                if kind not in ("claude", "codex"):
                    continue
                key = str(path)
                history = key not in self.known and since is not None and mtime(path) < since
                self.known.add(key)
                if history and kind == "claude":
                    self.scanner.skip_claude(path)  # an earlier run's transcript: start at its end
                    continue
                for ts, usage in self.scanner.read_dated(path, kind):
                    when = now if ts is None else ts
                    if history or (since is not None and when < since):
                        continue
                    entries.append((when, agent, usage))
                    deltas[agent] = deltas[agent] + usage if agent in deltas else usage
        return entries, deltas

    def _all_files(self) -> list[Path]:
        return [path for agent in self.agents for _, path in self.files_of(agent)]

    # -- gates ---------------------------------------------------------------------------------
    def open_gate(self, now: float, phase_id: str, label: str, claim: Claim | None = None) -> None:
        """A gate `label` was claimed in the open phase `phase_id` (by `claim`, when known), and
        the state is saved.

        With a claim its boundary is provisional (the end of the commit's second) until it can be
        settled from the transcripts; without one it opens at the end of the last gate recorded in
        this phase, else `now`. The same label as the gate in flight (a claim again) is no change.
        """
        changes = self._changes
        self._open_gate(now, phase_id, label, claim)
        if self._changes != changes:
            self.save()

    def _open_gate(self, now: float, phase_id: str, label: str, claim: Claim | None) -> None:
        s = self.spans
        if self.granularity != "gate" or s.phase is None:
            return
        # A gate of the next phase claimed while the last close settles: kept after the closing
        # phase's gates, and the next phase opens with it (`_finish_close`).
        successor = s.closing is not None and s.closing.successor and phase_id != s.closing.phase_id
        if not successor and (s.phase.phase_id != phase_id or s.closing is not None):
            return
        if s.gates and s.gates[-1].gate == label and s.gates[-1].phase_id == phase_id:
            return
        floor = max(t for t in (s.recorded_phase, s.recorded_gate, s.gates[-1].started if s.gates else None, -1e18)
                    if t is not None)
        if claim is not None:
            s.gates.append(GateSpan(label, phase_id, max(claim.committed + 1.0, floor), False, "git", claim))
        else:
            start = s.recorded_gate if s.recorded_gate is not None and s.recorded_gate > s.phase.started else now
            s.gates.append(GateSpan(label, phase_id, max(start, floor), True, "tick"))
        self._changes += 1

    def _settle(self, now: float, force: bool = False) -> None:
        """Decide the boundaries whose claim's second is `claims.SETTLE` seconds past (all of
        them with `force`)."""
        s = self.spans
        files: list[Path] | None = None
        for i, g in enumerate(s.gates):
            if g.settled or g.claim is None or (not force and now < g.claim.settles_at):
                continue
            files = self._all_files() if files is None else files
            at, source = boundary(g.claim, files)
            floor = max([t for t in (s.recorded_phase, s.recorded_gate) if t is not None] + [s.gates[i - 1].started if i else -1e18])
            g.started, g.source, g.settled = max(at, floor), source, True
            self._changes += 1

    def ready_gates(self) -> list[str]:
        """Labels of the gates whose record can be appended now (the next boundary is settled),
        oldest first."""
        s = self.spans
        out: list[str] = []
        if s.closing is not None:
            return out
        for i, g in enumerate(s.gates[:-1]):
            if not s.gates[i + 1].settled:
                break
            out.append(g.gate)
        return out

    # -- records -------------------------------------------------------------------------------
    def close_gate(self, now: float, phase_id: str | None, label: str | None) -> dict[str, Any] | None:
        """Append the record of the oldest open gate (if it is `label`, or any when None) once the
        next gate's boundary is settled; None when there is none to close."""
        s = self.spans
        if s.closing is not None or len(s.gates) < 2 or not s.gates[1].settled or (label is not None and s.gates[0].gate != label):
            return None
        g, end = s.gates[0], s.gates[1].started
        rec = self._append(record(f"{g.phase_id}:{g.gate}", g.gate, g.started, end, s.gate_sums(0, end), opened_by=g.source))
        s.gates.pop(0)
        s.recorded_gate = max(s.recorded_gate or end, end)
        self.save()
        return rec

    def close_phase(self, now: float, phase_id: str, at: float | None = None, *, successor: bool = True,
                    with_last_read: bool = False, settle: float = 0.0) -> list[dict[str, Any]]:
        """Append the records of the phase's gates, then the phase's own, ending at `at` (epoch;
        default `now`). With `successor` the next phase starts at `at` and keeps the entries
        stamped from then on; without (the sequence is complete) they are dropped. Returns the
        records appended (the gates', then the phase's).

        `settle` (seconds; the watchdog passes `PHASE_SETTLE`): the close is decided and saved
        now, but its records are appended by the first `poll` `settle` seconds later, so an entry
        stamped before the end and read in between still counts for the phase; returns [] then.
        A close of the same phase already waiting is not moved; a close of another phase records
        the waiting one at once (the next phase began where it ended and ends now).

        `with_last_read`: the last `poll` read the ended phase's final replies (its loop agents'
        old sessions, after their restart: the new ones have written nothing yet), so the phase
        ends after the newest of them even if one was stamped after `at` — a turn's last record
        can be written just after the tick that saw the turn end.
        """
        s = self.spans
        if s.closing is not None:
            if s.closing.phase_id == phase_id and s.closing.due is not None and now < s.closing.due:
                return []
            # Another phase ends before the last close was due (phases a few seconds long): that
            # close is recorded now, and `phase_id` is the phase that began where it ended.
            self._finish_close()
            if s.phase is None and s.next_start is not None:
                s.phase, s.next_start = PhaseSpan(phase_id, s.next_start), None
        end = now if at is None else at
        if s.phase is not None and s.phase.phase_id == phase_id and end < s.phase.started:
            end = now
        if with_last_read and self._last_read is not None and self._last_read >= end:
            end = self._last_read + 0.001
        self._settle(now, force=True)
        s.closing = Closing(phase_id, end, successor, now + settle if settle > 0 else None)
        self.save()  # the close is on disk before its records: a killed ledger finishes it
        return [] if settle > 0 else self._finish_close()

    def _finish_close(self) -> list[dict[str, Any]]:
        s = self.spans
        c = s.closing
        assert c is not None
        out = []
        if s.phase is not None and s.phase.phase_id != c.phase_id:  # not the one open: record it empty
            s.closing = None
            return [self._append(record(c.phase_id, None, c.at, c.at, {}))]
        if s.phase is not None:
            for i, g in enumerate(s.gates):
                end = min(s.gates[i + 1].started, c.at) if i + 1 < len(s.gates) else c.at
                if g.started < end and g.phase_id == c.phase_id:
                    out.append(self._append(record(f"{g.phase_id}:{g.gate}", g.gate, g.started, end, s.gate_sums(i, end),
                                                   opened_by=g.source)))
            out.append(self._append(record(c.phase_id, None, s.phase.started, c.at, s.phase_sums(before=c.at))))
        else:
            out.append(self._append(record(c.phase_id, None, c.at, c.at, {})))
        s.recorded_phase = max(s.recorded_phase or c.at, c.at)
        s.recorded_gate = max(s.recorded_gate or c.at, c.at)
        s.timeline = [e for e in s.timeline if e[0] >= c.at] if c.successor else []
        s.gates = [g for g in s.gates if g.phase_id != c.phase_id] if c.successor else []
        s.phase, s.closing = None, None
        s.next_start = c.at if c.successor else None
        self.save()
        return out

    # -- views ---------------------------------------------------------------------------------
    def open_ids(self) -> tuple[str | None, str | None]:
        """(phase id, gate label) of the open phase and the gate in flight (None where none; both
        None while a phase close waits to be recorded)."""
        s = self.spans
        if s.closing is not None:
            return None, None
        return (s.phase.phase_id if s.phase else None), (s.gates[-1].gate if s.gates else None)

    def successor_due(self) -> bool:
        """Whether a phase close with a successor is under way, or that successor is not open
        yet: the next `poll` must be given the phase current now (even after SEQUENCE-COMPLETE,
        when a short last phase ended within the settle time of the one before it)."""
        s = self.spans
        return (s.closing is not None and s.closing.successor) or (s.phase is None and s.next_start is not None)

    def totals(self, since: float | None = None) -> tuple[int, int]:
        """(tokens of the open phase, tokens of the run): the run is every phase recorded since
        `since` (epoch; all when None) plus the open one."""
        s = self.spans
        phase = sum(self.spans.phase_sums().values(), Usage()).total if s.phase is not None else 0
        recorded = sum(t for ended, t in self._phase_totals if since is None or ended > since)
        return phase, recorded + phase

    def live(self) -> list[dict[str, Any]]:
        """The open (not yet recorded) phase and gates, shaped like records (`ended` None)."""
        return live(self.spans)


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def read_ledger(log_dir: Path) -> list[dict[str, Any]]:
    """Every record in `<log_dir>/token-log.jsonl` (a torn last line is skipped)."""
    path = Path(log_dir) / "token-log.jsonl"
    out = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    except FileNotFoundError:
        pass
    return out


def open_buckets(log_dir: Path) -> list[dict[str, Any]]:
    """The running phase and gates from `<log_dir>/state/tokens.json`, shaped like records (a
    missing or unusable file shows nothing; it is left where it is)."""
    try:
        data = json.loads((Path(log_dir) / "state" / "tokens.json").read_text(encoding="utf-8"))
        spans = from_json(upgrade(data)) if isinstance(data, dict) else Spans()
    except (OSError, ValueError):
        return []
    return live(spans)
