"""When a gate opened: the moment its claim commit is known to exist, found in the transcripts.

Git records a commit's time in whole seconds, and the agent that committed usually spends tokens
in that same second both before the commit (the reply that ran `git commit`) and after it (the
reply to the command's output). So a gate's start is taken from the agents' transcripts, at
millisecond resolution, by this rule:

    A gate opens at the earliest tool result, in any agent's transcript, that reports its claim
    commit and is stamped at or after the commit's git second — or at the end of that second
    (committer time + 1 s) when no such result comes first.

A tool result reports the claim when its text holds the commit's abbreviated sha (7 hex digits:
the output of a plain `git commit`, `git log --oneline`, `git push`) or its subject line, or when
it answers a tool call whose input holds the subject (`git commit -qm '<subject>'` prints
nothing). The result is written after the command ran, so the boundary is never before the
commit; the end of the commit's second is never before it either. Every record of the committing
agent up to the call that made the commit falls before the boundary and every reply to its output
after it, whatever the git second, so the same run gives the same rows every time.

Records are read back from each transcript's end to `LOOKBEHIND` seconds before the commit's
second; the boundary is final once the transcripts have been read `SETTLE` seconds past the end of
that second (a result stamped before then is on disk by then).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.transcripts.records import record_time, tool_calls, tool_results

#: How far before a commit's second the transcripts are searched (seconds): a command that ran
#: this long before committing (tests, then `git commit`) still has its call found.
LOOKBEHIND = 120.0
#: Seconds after the end of a commit's second before its boundary is final.
SETTLE = 1.0
_BLOCK = 256 << 10
_TIME_KEY = b'"timestamp":"'


@dataclass(frozen=True)
class Claim:
    """A claim commit as git has it: `label` (the gate), `sha` (full or abbreviated, ≥ 7 hex
    digits), `subject` (its first line) and `committed` (committer time, whole epoch seconds)."""

    label: str
    sha: str
    subject: str
    committed: float

    @property
    def settles_at(self) -> float:
        """Epoch time after which the boundary can be decided for good."""
        return self.committed + 1.0 + SETTLE


def boundary(claim: Claim, files: Iterable[Path]) -> tuple[float, str]:
    """(the epoch time the gate opens, "transcript" or "git") for `claim`, by the module's rule.

    `files` are every agent's transcript files (Claude Code 2.1.197/2.1.332 or Codex
    0.169.0/0.171.0 JSON lines); files last written before the commit's second are skipped, a file
    that cannot be read is skipped. "git" means no tool result beat the end of the commit's
    second, which is then the boundary.
    """
    limit = claim.committed + 1.0
    best = limit
    for path in files:
        found = _earliest_result(path, claim)
        if found is not None and found < best:
            best = found
    return best, ("transcript" if best < limit else "git")


def _earliest_result(path: Path, claim: Claim) -> float | None:
    """The earliest time of a tool result in `path` that reports `claim`, stamped ≥ its second."""
    try:
        if os.stat(path).st_mtime < claim.committed:
            return None
        lines = _tail_lines(path, claim.committed - LOOKBEHIND)
    except OSError:
        return None
    needles = [claim.sha[:7].encode()] if len(claim.sha) >= 7 else []
    subject = json.dumps(claim.subject, ensure_ascii=False)[1:-1].encode()
    if subject.strip():
        needles.append(subject)
    if not needles:
        return None
    best: float | None = None
    calls: set[str] = set()
    for line in lines:
        if not any(n in line for n in needles):
            continue
        rec = _decode(line)
        if rec is None:
            continue
        when = record_time(rec)
        if tool_results(rec) and when is not None and when >= claim.committed:
            best = when if best is None else min(best, when)
        for call_id, text in tool_calls(rec):
            if any(n.decode("utf-8", "replace") in text for n in needles):
                calls.add(call_id)
    if calls:
        ids = [c.encode() for c in calls]
        for line in lines:
            if not any(i in line for i in ids):
                continue
            rec = _decode(line)
            when = record_time(rec) if rec is not None else None
            if rec is not None and when is not None and when >= claim.committed and calls & set(tool_results(rec)):
                best = when if best is None else min(best, when)
    return best


def _decode(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _tail_lines(path: Path, since: float) -> list[bytes]:
    """The complete lines at the end of `path` from the first one stamped before `since` (epoch)
    — read backwards in blocks, so a long transcript costs what its last minutes hold."""
    with open(path, "rb") as f:
        pos = f.seek(0, os.SEEK_END)
        data = b""
        while pos > 0:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
            start = data.find(b"\n") + 1 if pos > 0 else 0
            stop = data.find(b"\n", start)
            first = _quick_time(data[start:stop if stop >= 0 else len(data)])
            if first is not None and first < since:
                break
    if pos > 0:
        data = data[data.find(b"\n") + 1:]
    return [line for line in data.split(b"\n") if line.strip()]


def _quick_time(line: bytes) -> float | None:
    """A line's ``timestamp`` without decoding it (the first such key; good enough to know when
    to stop reading back)."""
    i = line.find(_TIME_KEY)
    if i < 0:
        return None
    start = i + len(_TIME_KEY)
    return record_time({"timestamp": line[start:line.find(b'"', start)].decode("ascii", "replace")})


def claim_of(entry: str | None, label: str) -> Claim | None:
    """The `Claim` of a watchdog handoff entry ``"<committer ts> <sha> <subject>"``, or None."""
    if not entry:
        return None
    parts = entry.split(" ", 2)
    try:
        return Claim(label, parts[1], parts[2] if len(parts) > 2 else "", float(parts[0]))
    except (IndexError, ValueError):
        return None
