#!/usr/bin/env python3
"""Token-reading benchmark: `agents tokens --scan` against ccusage on ~1 GB of Claude transcripts.

    .venv/bin/python bench/tokens_bench.py [--gb 1.0] [--workdir DIR] [--keep] [--repeat 7] [--no-tick]

1. Generates (seeded, streamed to disk) a set of Claude Code 2.1.197-style transcripts under
   ``<workdir>/projects/<slug>/<session>.jsonl``: prompts, tool results with sizeable content
   (lognormal sizes, the text twice as Claude Code writes it: ``message.content`` and
   ``toolUseResult``), Task results whose ``toolUseResult`` carries a ``usage`` object, assistant
   responses written as one line per content block sharing ``message.id``/``requestId`` with
   growing ``output_tokens`` snapshots, ``cache_creation`` breakdowns that match
   ``cache_creation_input_tokens`` / are all 0 while the field is not / are absent, and a few
   API-error records (model ``<synthetic>``, zero usage). While writing it sums what each
   counting rule should find, per session, into ``<workdir>/manifest.json``; a later run with
   the same ``--gb``/``--seed`` reuses the set (``--keep``).
2. Our full read, two ways: the command itself, ``python -m agent_orchestrator tokens --scan
   <workdir>/projects --json`` as a process (this checkout first on PYTHONPATH; wall from spawn
   to exit, CPU = user + system of it and of the worker processes it forks and reaps), and
   ``scan_paths([<workdir>/projects])`` timed inside a child Python process (the library
   alone, without interpreter start-up and the CLI's imports) → MB/s and totals.
3. ccusage: ``npm install --prefix .cache/npm-bench ccusage@20.0.24`` (else 18.0.11), then
   ``ccusage session --json --offline`` with ``CLAUDE_CONFIG_DIR=<workdir>`` (and an empty
   HOME) → MB/s and totals; 20.x is run both as its native binary
   (``@ccusage/ccusage-linux-x64/bin/ccusage``) and through the ``.bin/ccusage`` node launcher
   users call. All readers run ``--repeat`` times, alternating, on a warm page cache; the best
   and the median of each are reported.
4. Per field: do the totals agree, with the generator's expectations and with each other; the
   difference is explained by recomputing the expected totals under each candidate rule
   (de-duplication "largest total" vs "first line"; cache write = the field vs the sum of the
   ``cache_creation.ephemeral_*`` breakdown when present) and naming the one ccusage matches.
   A small rules probe (one session per edge case) shows each rule difference on its own.
5. Tick cost: ``--tick-files`` sessions holding 10 MB and 100 MB of history are read once by a
   `TranscriptScanner` (state round-tripped through JSON, as the ledger persists it); then
   0 / 1 / 4 MB are appended across 4 of the files and one ``read_claude`` pass over all files
   is timed (wall and CPU, median of ``--tick-reps``, the two history sizes interleaved so load
   drift hits both); the same with `Ledger.poll` (which also saves its state when something
   changed). The appended tokens are checked against the generator's count. Then a `Ledger`
   over every transcript of the set (one agent whose project folder holds them all): its first
   poll with the files as an earlier run's history (skipped), an idle poll, whether idle polls
   rewrite the state file; and a first poll that charges the files from their start (the live
   path's in-process full read).
6. Removes everything it generated unless ``--keep``.

Numbers depend on the machine and its load (the load average is printed): compare the ratios.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent_orchestrator.tokens import TranscriptScanner, Usage, scan_paths
from agent_orchestrator.tokens.ledger import Ledger
from agent_orchestrator.transcripts.discovery import claude_slug

GEN_VERSION = 1
MB = 1 << 20
NPM_PREFIX = REPO / ".cache" / "npm-bench"
CCUSAGE_VERSIONS = ("20.0.24", "18.0.11")
FIELDS = ("input", "output", "cache_read", "cache_write")
CCU_FIELDS = {"input": "inputTokens", "output": "outputTokens",
              "cache_read": "cacheReadTokens", "cache_write": "cacheCreationTokens"}  # fmt: skip
VERSION = "2.1.197"
MODELS = (("claude-sonnet-4-5-20250929", 60), ("claude-opus-4-1-20250805", 25),
          ("claude-haiku-4-5-20251001", 15))  # fmt: skip
PROJECTS = ("webapp", "api-server", "infra.tf", "ml_pipeline", "docs-site", "cli-tool",
            "mobile app", "data/etl")  # fmt: skip
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
T0_MS = 1_790_000_000_000  # 2026-09-21: a fixed epoch, so the set is byte-identical per seed


def dumps(rec: dict) -> str:
    """Compact JSON, raw UTF-8, like Claude Code's JSON.stringify (ccusage 20 needs compact)."""
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)


# -- generator ---------------------------------------------------------------------------------
_WORDS = (  # noqa: SIM905 - one string reads better than 150 quoted words
    "def class return import from self None True False if else elif for while in not and or "
    "async await yield with as try except finally raise lambda const let var function export "
    "interface type string number boolean undefined null useState useEffect props state config "
    "request response handler client server token usage session agent phase gate ledger scan "
    "offset buffer chunk line record message content result error status value key index count "
    "total input output cache read write path file dir name id uuid timestamp model tool bash "
    "edit grep test assert expect describe it mock fixture parse dumps loads json yaml toml "
    "SELECT FROM WHERE JOIN GROUP BY ORDER LIMIT INSERT UPDATE resource module terraform apply"
).split()
_PUNCT = ("(", ")", "[", "]", "{", "}", ":", ",", ".", " = ", " == ", " -> ", " + ", "'", '"',
          "\\", "\\n", "\t", "é", "→", "日本語", "🚀", "<", ">", "&", "/", "#", "%")  # fmt: skip


def make_pool(rng: random.Random, chars: int) -> str:
    """Code-like text (indentation, quotes, backslashes, tabs, non-ASCII) to slice content from."""
    lines: list[str] = []
    n = 0
    while n < chars:
        indent = "    " * rng.choice((0, 0, 1, 1, 2, 2, 3))
        parts = [rng.choice(_WORDS) if rng.random() < 0.8 else rng.choice(_PUNCT)
                 for _ in range(rng.randint(2, 14))]  # fmt: skip
        line = indent + " ".join(parts)
        lines.append(line)
        n += len(line) + 1
    return "\n".join(lines)


@dataclass
class Stats:
    """What each counting rule should find (tokens), and what the set contains (counts)."""

    input: int = 0
    cache_read: int = 0
    output_largest: int = 0  # de-duplication keeps the largest-total line (ours, ccusage 20)
    output_first: int = 0  # ... keeps the first line (ccusage 18's "first wins")
    cw_field: int = 0  # cache write = cache_creation_input_tokens (ours)
    cw_breakdown: int = 0  # ... = sum of cache_creation.ephemeral_* when present, else the field
    messages: int = 0
    assistant_lines: int = 0
    lines: int = 0
    api_errors: int = 0
    task_results: int = 0
    zero_breakdown: int = 0  # messages with breakdown 0 and field > 0
    zero_breakdown_tokens: int = 0  # their cache_creation_input_tokens
    no_breakdown: int = 0  # messages without a cache_creation object

    def add(self, other: Stats) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def usage(self, dedup: str = "largest", cache: str = "field") -> Usage:
        out = self.output_largest if dedup == "largest" else self.output_first
        cw = self.cw_field if cache == "field" else self.cw_breakdown
        return Usage(input=self.input, output=out, cache_read=self.cache_read, cache_write=cw)

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict) -> Stats:
        return cls(**{k: int(v) for k, v in d.items() if k in cls.__dataclass_fields__})


class SessionGen:
    """One Claude Code session; `turns` yields its lines, `stats` sums what they should count."""

    def __init__(self, rng: random.Random, pool: str, sigs: str, cwd: str, t_ms: int) -> None:
        self.rng, self.pool, self.sigs = rng, pool, sigs
        self.cwd = cwd
        self.sid = self.uuid()
        self.t = t_ms
        self.model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        self.branch = rng.choice(("main", "main", "dev", f"feature/{rng.choice(_WORDS)}"))
        self.one_hour = rng.random() < 0.3  # sessions that use the 1 h cache
        self.context = 0
        self.pending = 0  # tokens added to the context since the last API call
        self.parent: str | None = None
        self.stats = Stats()
        self.started = False

    # small helpers
    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def ident(self, prefix: str, n: int) -> str:
        return prefix + "".join(self.rng.choices(BASE62, k=n))

    def text(self, n: int) -> str:
        n = max(1, min(n, len(self.pool) - 1))
        off = self.rng.randrange(0, len(self.pool) - n)
        return self.pool[off : off + n]

    def ts(self) -> str:
        self.t += self.rng.randint(200, 20000)
        s, ms = divmod(self.t, 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ms:03d}Z"

    def base(self, kind: str) -> dict:
        uid = self.uuid()
        rec = {"parentUuid": self.parent, "isSidechain": False, "userType": "external",
               "cwd": self.cwd, "sessionId": self.sid, "version": VERSION,
               "gitBranch": self.branch, "type": kind}  # fmt: skip
        self.parent = uid
        rec["uuid"] = uid
        return rec

    def line(self, rec: dict) -> str:
        self.stats.lines += 1
        return dumps(rec)

    # records
    def user_prompt(self) -> str:
        rec = self.base("user")
        prompt = self.text(self.rng.randint(40, 900))
        rec["message"] = {"role": "user", "content": prompt}
        rec["timestamp"] = self.ts()
        self.pending += len(prompt) // 4 + 30
        return self.line(rec)

    def tool_input(self, name: str) -> dict:
        r = self.rng
        path = f"{self.cwd}/src/{r.choice(_WORDS)}/{r.choice(_WORDS)}.py"
        if name == "Bash":
            return {"command": self.text(r.randint(10, 160)), "description": self.text(30)}
        if name == "Read":
            return {"file_path": path}
        if name == "Edit":
            return {"file_path": path, "old_string": self.text(r.randint(40, 1500)),
                    "new_string": self.text(r.randint(40, 2500))}  # fmt: skip
        if name == "Write":
            return {"file_path": path, "content": self.text(int(r.lognormvariate(math.log(3000), 1)))}
        if name == "Task":
            return {"description": self.text(40), "prompt": self.text(r.randint(200, 1500)),
                    "subagent_type": "general-purpose"}  # fmt: skip
        return {"pattern": self.text(12), "path": self.cwd, "output_mode": "content"}

    def tool_result(self, tool_id: str, name: str) -> str:
        r = self.rng
        size = int(min(max(r.lognormvariate(math.log(1500), 1.3), 20), 150_000))
        body = self.text(size)
        rec = self.base("user")
        rec["message"] = {"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": body, "is_error": False}]}
        if name == "Read":
            rec["toolUseResult"] = {"type": "text", "file": {
                "filePath": f"{self.cwd}/src/{r.choice(_WORDS)}.py", "content": body,
                "numLines": body.count("\n") + 1, "startLine": 1, "totalLines": body.count("\n") + 1}}
        elif name == "Task":  # a sub-agent's result carries its own usage: not this session's
            self.stats.task_results += 1
            rec["toolUseResult"] = {"status": "completed", "prompt": self.text(200),
                "agentId": self.ident("", 8), "content": [{"type": "text", "text": body}],
                "totalDurationMs": r.randint(5000, 300000), "totalTokens": r.randint(1000, 90000),
                "totalToolUseCount": r.randint(1, 40),
                "usage": {"input_tokens": r.randint(1, 50), "cache_creation_input_tokens": r.randint(0, 9000),
                          "cache_read_input_tokens": r.randint(0, 90000), "output_tokens": r.randint(10, 4000),
                          "service_tier": "standard"}}  # fmt: skip
        else:
            rec["toolUseResult"] = {"stdout": body, "stderr": "", "interrupted": False, "isImage": False}
        rec["timestamp"] = self.ts()
        self.pending += size // 4 + 20
        return self.line(rec)

    def api_error(self) -> str:
        rec = self.base("assistant")
        rec["message"] = {"id": self.uuid(), "container": None, "model": "<synthetic>",
            "role": "assistant", "stop_reason": "stop_sequence", "stop_sequence": "",
            "type": "message", "usage": {"input_tokens": 0, "output_tokens": 0,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": None, "cache_creation": {"ephemeral_1h_input_tokens": 0,
            "ephemeral_5m_input_tokens": 0}},
            "content": [{"type": "text", "text": "API Error: 529 {\"type\":\"error\",\"error\":"
                         "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"}]}  # fmt: skip
        rec["isApiErrorMessage"] = True
        rec["apiErrorStatus"] = 529
        rec["timestamp"] = self.ts()
        self.stats.api_errors += 1
        return self.line(rec)

    def response(self, final: bool) -> Iterator[str]:
        """One API response: one line per content block, then its tool results."""
        r, st = self.rng, self.stats
        blocks: list[dict] = []
        if r.random() < 0.5:
            blocks.append({"type": "thinking", "thinking": self.text(r.randint(100, 3000)),
                           "signature": self.sig()})  # fmt: skip
        if final or r.random() < 0.5:
            blocks.append({"type": "text", "text": self.text(r.randint(30, 2000))})
        tools: list[tuple[str, str]] = []
        if not final:
            for _ in range(r.choices((1, 2, 3), (70, 20, 10))[0]):
                name = r.choices(("Bash", "Read", "Edit", "Write", "Grep", "Task"),
                                 (30, 30, 15, 6, 15, 4))[0]  # fmt: skip
                tid = self.ident("toolu_01", 22)
                tools.append((tid, name))
                blocks.append({"type": "tool_use", "id": tid, "name": name, "input": self.tool_input(name)})
        # usage: all lines of one response share it, except the output_tokens snapshot
        if not self.started:
            inp, cr, cw = r.randint(3, 12), 0, r.randint(14000, 26000)
            self.started = True
        else:
            inp, cr, cw = r.randint(1, 9), self.context, self.pending + r.randint(20, 400)
            if r.random() < 0.05:  # the cache expired: everything is written again
                inp, cr, cw = r.randint(1, 9), 0, self.context + self.pending
        self.context = cr + cw
        self.pending = 0
        if self.context > 160_000:  # auto-compact
            self.context = r.randint(15000, 30000)
        out = sum(len(json.dumps(b)) for b in blocks) // 4 + r.randint(5, 60)
        snaps = [*sorted(r.randint(1, max(1, out // 3)) for _ in range(len(blocks) - 1)), out]
        kind = r.random()
        if kind < 0.08:  # breakdown all 0 while the field is not (seen in real transcripts)
            breakdown: dict | None = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
            bsum = 0
            if cw:
                st.zero_breakdown += 1
                st.zero_breakdown_tokens += cw
        elif kind < 0.12:  # no breakdown object (older records)
            breakdown, bsum = None, cw
            st.no_breakdown += 1
        else:
            one_h = cw if self.one_hour else 0
            breakdown = {"ephemeral_5m_input_tokens": cw - one_h, "ephemeral_1h_input_tokens": one_h}
            bsum = cw
        mid, rid = self.ident("msg_01", 22), self.ident("req_011C", 18)
        st.messages += 1
        st.input += inp
        st.cache_read += cr
        st.output_largest += out
        st.output_first += snaps[0]
        st.cw_field += cw
        st.cw_breakdown += bsum
        for i, block in enumerate(blocks):
            usage: dict = {"input_tokens": inp, "cache_creation_input_tokens": cw,
                           "cache_read_input_tokens": cr}  # fmt: skip
            if breakdown is not None:
                usage["cache_creation"] = breakdown
            usage.update(output_tokens=snaps[i], service_tier="standard")
            last = i == len(blocks) - 1
            rec = self.base("assistant")
            del rec["type"], rec["uuid"]
            rec["message"] = {"model": self.model, "id": mid, "type": "message", "role": "assistant",
                              "content": [block], "stop_reason": None, "stop_sequence": None,
                              "usage": usage}  # fmt: skip
            if last:
                rec["message"]["stop_reason"] = "end_turn" if final else "tool_use"
            rec.update(requestId=rid, type="assistant", uuid=self.parent, timestamp=self.ts())
            st.assistant_lines += 1
            yield self.line(rec)
        for tid, name in tools:
            yield self.tool_result(tid, name)

    def sig(self) -> str:
        n = self.rng.randint(200, 1600)
        off = self.rng.randrange(0, len(self.sigs) - n)
        return self.sigs[off : off + n]

    def turn(self) -> Iterator[str]:
        r = self.rng
        if not self.started and not self.stats.lines:
            yield self.line({"type": "file-history-snapshot", "messageId": self.uuid(),
                             "snapshot": {"messageId": self.uuid(), "trackedFileBackups": {},
                                          "timestamp": self.ts()}, "isSnapshotUpdate": False})  # fmt: skip
        yield self.user_prompt()
        calls = min(1 + int(r.expovariate(1 / 5)), 30)
        for i in range(calls):
            if r.random() < 0.004:
                yield self.api_error()
            yield from self.response(final=i == calls - 1)
        rec = {"parentUuid": self.parent, "isSidechain": False, "userType": "external",
               "cwd": self.cwd, "sessionId": self.sid, "version": VERSION, "gitBranch": self.branch,
               "type": "system", "subtype": "turn_duration", "durationMs": r.randint(2000, 600000),
               "timestamp": self.ts(), "uuid": self.uuid(), "isMeta": False}  # fmt: skip
        yield self.line(rec)

    def write(self, f, budget: int) -> int:
        """Append whole turns to open file ``f`` until ``budget`` bytes are written; bytes written."""
        n = 0
        while n < budget:
            for line in self.turn():
                data = (line + "\n").encode()
                f.write(data)
                n += len(data)
        return n


def generators(seed: int) -> tuple[str, str]:
    rng = random.Random(seed ^ 0x5EED)
    pool = make_pool(rng, 4 << 20)
    sigs = base64.b64encode(rng.randbytes(3 << 20)).decode()
    return pool, sigs


def generate_set(root: Path, gb: float, seed: int, log: Callable[[str], None]) -> dict:
    """Write the data set under ``root/projects``; return the manifest (also saved)."""
    target = int(gb * (1 << 30))
    rng = random.Random(seed)
    pool, sigs = generators(seed)
    projects = root / "projects"
    t0 = time.perf_counter()
    sessions: dict[str, dict] = {}
    total = 0
    t_ms = T0_MS
    while total < target:
        name = rng.choice(PROJECTS)
        cwd = f"/home/dev/{name}"
        folder = projects / claude_slug(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        size = int(min(max(rng.lognormvariate(math.log(2.5 * MB), 1.0), 64 << 10), 48 * MB))
        size = min(size, max(target - total, 64 << 10))
        gen = SessionGen(rng, pool, sigs, cwd, t_ms)
        t_ms += rng.randint(60_000, 3_600_000)
        path = folder / f"{gen.sid}.jsonl"
        with open(path, "wb", buffering=1 << 20) as f:
            n = gen.write(f, size)
        total += n
        sessions[gen.sid] = {"path": str(path.relative_to(root)), "bytes": n, "stats": gen.stats.to_dict()}
        if len(sessions) % 50 == 0:
            log(f"  generated {total / MB:,.0f} MB in {len(sessions)} sessions "
                f"({total / MB / (time.perf_counter() - t0):,.0f} MB/s)")  # fmt: skip
    manifest = {"generator": GEN_VERSION, "gb": gb, "seed": seed, "bytes": total,
                "seconds": round(time.perf_counter() - t0, 1), "sessions": sessions}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def load_manifest(root: Path, gb: float, seed: int) -> dict | None:
    """The saved manifest if it describes the same parameters and every file is intact."""
    try:
        m = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if (m.get("generator"), m.get("gb"), m.get("seed")) != (GEN_VERSION, gb, seed):
        return None
    for s in m["sessions"].values():
        p = root / s["path"]
        if not p.is_file() or p.stat().st_size != s["bytes"]:
            return None
    return m


# -- the two readers --------------------------------------------------------------------------
def scan_child(folder: str) -> None:
    """``--scan-only``: run scan_paths in this (fresh) process, print timings and totals as JSON."""
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    totals = scan_paths([folder])
    wall = time.perf_counter() - t0
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = sum(totals.values(), Usage())
    cpu = sum(b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime for a, b in ((r0, r1), (c0, c1)))  # + its workers
    print(json.dumps({"wall": wall, "cpu": cpu, "maxrss_mb": max(r1.ru_maxrss, c1.ru_maxrss) / 1024, "total": total.to_dict(),
                      "sessions": {k: v.to_dict() for k, v in totals.items()}}))  # fmt: skip


def run_measured(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, object, bytes, bytes, int]:
    """Run argv; return (wall s, rusage incl. its reaped children, stdout, stderr, exit code)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return wall, ru, out.read(), err.read(), p.returncode


def run_ours(folder: Path) -> dict:
    """``scan_paths`` timed inside a fresh child process (the library alone)."""
    wall, _, out, err, rc = run_measured([sys.executable, __file__, "--scan-only", str(folder)])
    if rc:
        raise RuntimeError(f"our scan failed ({rc}): {err.decode(errors='replace')[-2000:]}")
    res = json.loads(out)
    res["process_wall"] = wall
    return res


def run_cli(folder: Path) -> dict:
    """``python -m agent_orchestrator tokens --scan FOLDER --json``, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    wall, ru, out, err, rc = run_measured([sys.executable, "-m", "agent_orchestrator", "tokens", "--scan", str(folder), "--json"],
                                          env=env, cwd=REPO)  # fmt: skip
    if rc:
        raise RuntimeError(f"tokens --scan failed ({rc}): {err.decode(errors='replace')[-2000:]}")
    data = json.loads(out)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024,
            "total": Usage.from_dict(data["total"]),
            "sessions": {k: Usage.from_dict(v) for k, v in data["sessions"].items()}}  # fmt: skip


def native_ccusage() -> Path | None:
    """ccusage 20's own binary for this platform (what ``.bin/ccusage`` execs via node), if any."""
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    binary = NPM_PREFIX / "node_modules" / "@ccusage" / f"ccusage-{sys.platform}-{arch}" / "bin" / "ccusage"
    return binary if binary.exists() and os.access(binary, os.X_OK) else None


def install_ccusage(log: Callable[[str], None]) -> tuple[str, Path] | None:
    """npm-install ccusage into .cache/npm-bench (20.0.24, else 18.0.11); (version, bin) or None."""
    binary = NPM_PREFIX / "node_modules" / ".bin" / "ccusage"
    pkg = NPM_PREFIX / "node_modules" / "ccusage" / "package.json"
    if not shutil.which("npm"):
        log("npm not found: ccusage skipped")
        return None
    for version in CCUSAGE_VERSIONS:
        try:
            if binary.exists() and json.loads(pkg.read_text()).get("version") == version:
                return version, binary
        except (OSError, ValueError):
            pass
        log(f"npm install --prefix {NPM_PREFIX} ccusage@{version}")
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX),
                            f"ccusage@{version}"], capture_output=True, text=True, check=False)  # fmt: skip
        if p.returncode == 0 and binary.exists():
            probe = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
            if probe.returncode == 0:
                return version, binary
            log(f"ccusage@{version} installed but does not run: {probe.stderr.strip()[-300:]}")
        else:
            log(f"npm install ccusage@{version} failed: {p.stderr.strip()[-500:]}")
    return None


def ccusage_env(config_dir: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "CCUSAGE_"))}
    env.update(CLAUDE_CONFIG_DIR=str(config_dir), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               NO_COLOR="1", TZ="UTC")  # fmt: skip
    return env


def run_ccusage(binary: Path, config_dir: Path, home: Path) -> dict:
    wall, ru, out, err, rc = run_measured([str(binary), "session", "--json", "--offline"],
                                          env=ccusage_env(config_dir, home), cwd=home)  # fmt: skip
    if rc:
        raise RuntimeError(f"ccusage failed ({rc}): {err.decode(errors='replace')[-2000:]}")
    data = json.loads(out)
    rows = data.get("session") or data.get("sessions") or []
    sessions = {}
    for row in rows:
        key = row.get("period") or row.get("sessionId")
        sessions[key] = Usage(*(int(row.get(CCU_FIELDS[f], 0)) for f in FIELDS))
    tot = data.get("totals") or {}
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024,
            "total": Usage(*(int(tot.get(CCU_FIELDS[f], 0)) for f in FIELDS)), "sessions": sessions}  # fmt: skip


# -- rules probe ------------------------------------------------------------------------------
def probe_lines() -> dict[str, list[str]]:
    """One small session per counting rule that tells readers apart (file stem → lines)."""

    def asst(sid: str, mid: str, rid: str | None, out: int, *, cw: int = 0, breakdown="match",
             model: str = "claude-sonnet-4-5-20250929", error: bool = False, inp: int = 3,
             read: int = 1000) -> str:  # fmt: skip
        usage: dict = {"input_tokens": inp, "cache_creation_input_tokens": cw, "cache_read_input_tokens": read}
        if breakdown == "match":
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": cw, "ephemeral_1h_input_tokens": 0}
        elif breakdown == "zero":
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
        elif isinstance(breakdown, int):
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": breakdown, "ephemeral_1h_input_tokens": 0}
        usage.update(output_tokens=out, service_tier="standard")
        rec = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/p",
               "sessionId": sid, "version": VERSION, "gitBranch": "main",
               "message": {"model": model, "id": mid, "type": "message", "role": "assistant",
                           "content": [{"type": "text", "text": "x"}], "stop_reason": None,
                           "stop_sequence": None, "usage": usage},
               "requestId": rid, "type": "assistant", "uuid": f"u-{sid}-{mid}-{out}",
               "timestamp": "2026-09-21T10:00:00.000Z"}  # fmt: skip
        if rid is None:
            del rec["requestId"]
        if error:
            rec.update(isApiErrorMessage=True, apiErrorStatus=529)
        return dumps(rec)

    cases = {
        "streamed-largest-last": [asst("streamed-largest-last", "m1", "r1", o, cw=100) for o in (2, 5, 300)],
        "stale-snapshot-after": [asst("stale-snapshot-after", "m2", "r2", o, cw=100) for o in (2, 300, 40)],
        "no-requestId": [asst("no-requestId", "m3", None, 50, cw=100) for _ in range(2)],
        "breakdown-zero": [asst("breakdown-zero", "m4", "r4", 50, cw=500, breakdown="zero")],
        "breakdown-absent": [asst("breakdown-absent", "m5", "r5", 50, cw=500, breakdown=None)],
        "breakdown-differs": [asst("breakdown-differs", "m6", "r6", 50, cw=700, breakdown=100)],
        "synthetic-nonzero": [asst("synthetic-nonzero", "m7", None, 50, model="<synthetic>", error=True, inp=40, read=0)],
        "copied-to-2nd-file-a": [asst("copied-to-2nd-file-a", "m8", "r8", 50, cw=100)],
        "copied-to-2nd-file-b": [asst("copied-to-2nd-file-b", "m8", "r8", 50, cw=100)],
    }
    long = [asst("replayed-after-600", f"n{i}", f"q{i}", 10, read=0, inp=1) for i in range(600)]
    cases["replayed-after-600"] = long + long[:10]  # a resume replaying 10 old responses
    return cases


def run_probe(root: Path, ccusage: tuple[str, Path] | None, home: Path) -> list[tuple[str, Usage, Usage | None]]:
    folder = root / "probe" / "projects" / "-p"
    folder.mkdir(parents=True, exist_ok=True)
    for stem, lines in probe_lines().items():
        (folder / f"{stem}.jsonl").write_text("".join(line + "\n" for line in lines))
    ours = scan_paths([folder])
    theirs = run_ccusage(ccusage[1], root / "probe", home)["sessions"] if ccusage else {}
    return [(stem, ours.get(stem, Usage()), theirs.get(stem, Usage()) if ccusage else None)
            for stem in probe_lines()]  # fmt: skip


# -- tick cost --------------------------------------------------------------------------------
@dataclass
class TickRow:
    history_mb: float
    appended_mb: float
    read_ms: list[float] = field(default_factory=list)
    read_cpu_ms: list[float] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)
    poll_cpu_ms: list[float] = field(default_factory=list)
    ok: bool = True
    state_kb: float = 0.0
    requested_mb: int = 0


class TickRig:
    """``files`` transcripts holding ``history_mb`` MB, already read by a scanner and a ledger."""

    def __init__(self, root: Path, seed: int, history_mb: int, files: int) -> None:
        self.rng = random.Random(seed * 1000 + history_mb)
        pool, sigs = generators(seed)
        folder = root / "tick" / f"h{history_mb}" / "projects" / "-home-dev-tick"
        folder.mkdir(parents=True, exist_ok=True)
        self.gens: list[SessionGen] = []
        self.paths: list[Path] = []
        for i in range(files):
            gen = SessionGen(self.rng, pool, sigs, "/home/dev/tick", T0_MS + i * 1000)
            path = folder / f"{gen.sid}.jsonl"
            with open(path, "wb", buffering=1 << 20) as f:
                gen.write(f, history_mb * MB // files)
            self.gens.append(gen)
            self.paths.append(path)
        self.history = sum(p.stat().st_size for p in self.paths)
        # the scanner: full read once, then its state goes through JSON (as the ledger persists it)
        scanner = TranscriptScanner()
        t0 = time.perf_counter()
        for p in self.paths:
            scanner.read_claude(p)
        self.first_mbs = self.history / MB / (time.perf_counter() - t0)
        self.scanner = TranscriptScanner.from_state(json.loads(json.dumps(scanner.to_state())))
        half = (files + 1) // 2
        by_agent = {"alice": self.paths[:half], "bob": self.paths[half:]}
        self.ledger = Ledger(root / "tick" / f"ledger-h{history_mb}", list(by_agent),
                             lambda a: [("claude", p) for p in by_agent[a]])  # fmt: skip
        self.ledger.poll(time.time(), "p1", "G1")  # reads the history (charged; does not matter here)

    def append(self, nbytes: int) -> Usage:
        """Append ~nbytes across 4 of the files (whole turns); the tokens they should count."""
        want = Usage()
        if nbytes <= 0:
            return want
        chosen = self.rng.sample(range(len(self.paths)), min(4, len(self.paths)))
        for i in chosen:
            gen = self.gens[i]
            before = Stats(**gen.stats.to_dict())
            with open(self.paths[i], "ab") as f:
                gen.write(f, nbytes // len(chosen))
            after = gen.stats
            want = want + Usage(after.input - before.input, after.output_largest - before.output_largest,
                                after.cache_read - before.cache_read, after.cw_field - before.cw_field)  # fmt: skip
        return want

    def read_all(self) -> Usage:
        return sum((self.scanner.read_claude(p) for p in self.paths), Usage())

    def poll(self) -> Usage:
        return sum(self.ledger.poll(time.time(), "p1", "G1").values(), Usage())

    def tick(self, row: TickRow) -> None:
        """One timed read_claude pass and one timed Ledger.poll, each after its own append.

        The scanner and the ledger read the same files with their own offsets: each catches up
        (untimed) after the other's timed tick.
        """
        nbytes = int(row.appended_mb * MB)
        for timed, other, wall, cpu in ((self.read_all, self.poll, row.read_ms, row.read_cpu_ms),
                                        (self.poll, self.read_all, row.poll_ms, row.poll_cpu_ms)):  # fmt: skip
            want = self.append(nbytes)
            t0, c0 = time.perf_counter(), time.process_time()
            got = timed()
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            row.ok &= got == want and other() == want
        row.state_kb = self.ledger.state_path.stat().st_size / 1024


def tick_bench(root: Path, seed: int, hist: list[int], files: int, appends_mb: list[float], reps: int,
               log: Callable[[str], None]) -> tuple[list[TickRow], dict[int, float]]:
    """Rows per (history, appended), the history sizes' ticks interleaved so load drift hits both."""
    rigs = {h: TickRig(root, seed, h, files) for h in hist}
    rows = []
    for app in appends_mb:
        batch = {h: TickRow(rig.history / MB, app, requested_mb=h) for h, rig in rigs.items()}
        for rep in range(reps):
            for h in hist if rep % 2 == 0 else hist[::-1]:
                rigs[h].tick(batch[h])
        for h, row in batch.items():
            rows.append(row)
            log(f"  history {row.history_mb:.0f} MB, +{app:g} MB: read_claude {statistics.median(row.read_ms):.1f} ms, "
                f"Ledger.poll {statistics.median(row.poll_ms):.1f} ms, tokens match: {row.ok}")  # fmt: skip
    return rows, {h: rig.first_mbs for h, rig in rigs.items()}


# -- report -----------------------------------------------------------------------------------
def show(u: Usage) -> str:
    return "/".join(str(getattr(u, f)) for f in FIELDS)


def fmt(n: int) -> str:
    return f"{n:,}"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the generated set in GiB (default 1.0)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ao-tokens-bench",
                        help="where the set is written (default $TMPDIR/ao-tokens-bench)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--keep", action="store_true", help="keep the generated data (reused next time)")
    parser.add_argument("--repeat", type=int, default=7, help="full reads per reader, alternating (default 7)")
    parser.add_argument("--tick-history", default="10,100", help="history sizes in MB (default 10,100)")
    parser.add_argument("--tick-append", default="0,1,4", help="appended MB per tick (default 0,1,4)")
    parser.add_argument("--tick-files", type=int, default=10, help="transcripts in the tick test (default 10)")
    parser.add_argument("--tick-reps", type=int, default=9, help="ticks per row (median; default 9)")
    parser.add_argument("--no-ccusage", action="store_true", help="skip ccusage")
    parser.add_argument("--no-tick", action="store_true", help="only the full read and the rules probe")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--scan-only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scan_only:
        scan_child(args.scan_only)
        return 0

    def log(msg: str) -> None:
        print(msg, flush=True)

    root: Path = args.workdir.resolve()
    if (root / "projects").exists() and not (root / "manifest.json").exists():
        log(f"{root}/projects exists and was not made by this bench: refusing to touch it")
        return 2
    root.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="ao-tokens-bench-home-"))
    results: dict = {"machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
                                f"Python {platform.python_version()}"}  # fmt: skip
    log(f"machine: {results['machine']}; load average {load()}")
    try:
        # 1. the data set
        manifest = load_manifest(root, args.gb, args.seed)
        if manifest:
            log(f"reusing {manifest['bytes'] / MB:,.0f} MB in {len(manifest['sessions'])} sessions at {root}")
        else:
            shutil.rmtree(root / "projects", ignore_errors=True)
            (root / "manifest.json").unlink(missing_ok=True)
            log(f"generating {args.gb:g} GiB of transcripts under {root}/projects (seed {args.seed})")
            manifest = generate_set(root, args.gb, args.seed, log)
            log(f"  wrote {manifest['bytes'] / MB:,.0f} MB in {manifest['seconds']} s")
        size = manifest["bytes"]
        stats = Stats()
        for s in manifest["sessions"].values():
            stats.add(Stats.from_dict(s["stats"]))
        folders = sorted({Path(s["path"]).parent.name for s in manifest["sessions"].values()})
        log(f"  {len(manifest['sessions'])} sessions in {len(folders)} project folders, {fmt(stats.lines)} lines, "
            f"{fmt(stats.messages)} API responses on {fmt(stats.assistant_lines)} assistant lines, "
            f"{stats.api_errors} API errors, {stats.task_results} Task results, "
            f"{fmt(stats.zero_breakdown)} responses with breakdown 0 / field > 0, "
            f"{fmt(stats.no_breakdown)} without breakdown")  # fmt: skip

        # warm the page cache (and measure the raw read floor)
        t0 = time.perf_counter()
        for s in manifest["sessions"].values():
            with open(root / s["path"], "rb", buffering=0) as f:
                while f.read(8 * MB):
                    pass
        raw = time.perf_counter() - t0
        log(f"raw read (page cache): {size / MB / raw:,.0f} MB/s")

        ccusage = None if args.no_ccusage else install_ccusage(log)
        if ccusage:
            log(f"ccusage {ccusage[0]} at {ccusage[1]} (native binary: {native_ccusage() or 'none'})")

        # 2./3. full reads, alternating (the order reversed every other round)
        readers: dict[str, Callable[[], dict]] = {
            "cli": lambda: run_cli(root / "projects"),
            "lib": lambda: run_ours(root / "projects"),
        }
        labels = {"cli": "ours: `tokens --scan --json` (the command, as a process)",
                  "lib": f"ours: `scan_paths` alone (timed inside Python {platform.python_version()})"}  # fmt: skip
        native = native_ccusage() if ccusage and ccusage[0].startswith("20.") else None
        if ccusage:
            if native:
                readers["ccusage"] = lambda: run_ccusage(native, root, home)
                labels["ccusage"] = f"ccusage {ccusage[0]} native binary `session --json --offline`"
            key = "launcher" if native else "ccusage"
            readers[key] = lambda: run_ccusage(ccusage[1], root, home)
            labels[key] = f"ccusage {ccusage[0]} `.bin/ccusage` (node launcher{' → native' if native else ''})"
        runs: dict[str, list[dict]] = {k: [] for k in readers}
        for i in range(args.repeat):
            for name in list(readers) if i % 2 == 0 else list(readers)[::-1]:
                la = load()
                r = readers[name]()
                runs[name].append(r)
                log(f"run {i + 1}: {name:8s} {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU "
                    f"({size / MB / r['wall']:,.0f} MB/s), load {la}")  # fmt: skip
        med = statistics.median
        summary = {k: {"best_wall": min(r["wall"] for r in v), "median_wall": med(r["wall"] for r in v),
                       "median_cpu": med(r["cpu"] for r in v), "best_cpu": min(r["cpu"] for r in v),
                       "maxrss_mb": max(r["maxrss_mb"] for r in v)} for k, v in runs.items()}  # fmt: skip
        cli_totals = {json.dumps(r["total"].to_dict()) for r in runs["cli"]}
        ours = runs["cli"][0]
        ours_total = ours["total"]
        lib_total = Usage.from_dict(runs["lib"][0]["total"])
        theirs = runs["ccusage"][0] if "ccusage" in runs else None

        # 4. the comparison and its explanation
        rules = {
            ("largest", "field"): "largest-total line per message.id:requestId; cache write = cache_creation_input_tokens",
            ("largest", "breakdown"): "largest-total line; cache write = Σ cache_creation.ephemeral_* when present, else the field",
            ("first", "field"): "first line per key; cache write = the field",
            ("first", "breakdown"): "first line per key; cache write = Σ ephemeral_* when present",
        }  # fmt: skip
        expected_ours = stats.usage("largest", "field")
        lines = ["", f"## Full read of {size / MB:,.0f} MB ({len(manifest['sessions'])} sessions)", ""]
        lines.append(f"| reader ({args.repeat} runs each, alternating) | wall s best | wall s median | MB/s (median) "
                     "| CPU s median | max RSS MB |")  # fmt: skip
        lines.append("|---|---:|---:|---:|---:|---:|")
        for k, v in summary.items():
            lines.append(f"| {labels[k]} | {v['best_wall']:.2f} | {v['median_wall']:.2f} | {size / MB / v['median_wall']:,.0f} | "
                         f"{v['median_cpu']:.2f} | {v['maxrss_mb']:,.0f} |")  # fmt: skip
        lines.append("")
        if theirs:
            o, t = summary["cli"], summary["ccusage"]
            faster = sum(a["wall"] <= b["wall"] for a, b in zip(runs["cli"], runs["ccusage"], strict=True))
            lines.append(f"Ratio `tokens --scan` / ccusage native: wall {o['median_wall'] / t['median_wall']:.2f}× (medians), "
                         f"{o['best_wall'] / t['best_wall']:.2f}× (bests); CPU {o['median_cpu'] / t['median_cpu']:.2f}× "
                         f"(medians); ours at least as fast in {faster} of {args.repeat} rounds (>1 = ours slower).")  # fmt: skip
        lines.append(f"Of our wall time, the command's start-up (interpreter, CLI imports) and exit take about "
                     f"{summary['cli']['median_wall'] - summary['lib']['median_wall']:.2f} s (median `tokens --scan` − "
                     f"median `scan_paths`). Raw read from page cache: {size / MB / raw:,.0f} MB/s.")  # fmt: skip
        lines += ["", "| field | generator (our rule) | ours | ccusage | agree |", "|---|---:|---:|---:|---|"]
        for f in FIELDS:
            e, o = getattr(expected_ours, f), getattr(ours_total, f)
            t = getattr(theirs["total"], f) if theirs else None
            agree = "—" if t is None else ("yes" if t == o else f"no (ours {o - t:+,})")
            lines.append(f"| {f} | {fmt(e)} | {fmt(o)} | {fmt(t) if t is not None else '—'} | {agree} |")
        lines.append("")
        lines.append(f"Ours (`tokens --scan`, every run) equals the generator's count under our rule: "
                     f"{'yes' if cli_totals == {json.dumps(expected_ours.to_dict())} else 'NO'}; "
                     f"`scan_paths` alone: {'yes' if lib_total == expected_ours else 'NO'}.")  # fmt: skip
        per_ok = sum(ours["sessions"].get(sid, Usage()) == Stats.from_dict(s["stats"]).usage()
                     for sid, s in manifest["sessions"].items())  # fmt: skip
        lines.append(f"Per session, ours = generator: {per_ok}/{len(manifest['sessions'])}.")
        if theirs:
            matching = [k for k in rules if stats.usage(*k) == theirs["total"]]
            if matching:
                lines.append(f"ccusage equals the generator's count under the rule: {rules[matching[0]]}.")
                per = sum(theirs["sessions"].get(sid) == Stats.from_dict(s["stats"]).usage(*matching[0])
                          for sid, s in manifest["sessions"].items())  # fmt: skip
                lines.append(f"Per session, ccusage = that rule: {per}/{len(manifest['sessions'])}.")
            else:
                lines.append("ccusage matches none of the candidate rules exactly: " + ", ".join(
                    f"{f} {getattr(theirs['total'], f) - getattr(stats.usage(*k), f):+,} vs {k}"
                    for k in rules for f in FIELDS))  # fmt: skip
            dcw = ours_total.cache_write - theirs["total"].cache_write
            if dcw:
                lines.append(
                    f"cache_write: ours − ccusage = {fmt(dcw)} tokens; the {fmt(stats.zero_breakdown)} responses whose "
                    f"`cache_creation` breakdown is 0 while `cache_creation_input_tokens` is not carry "
                    f"{fmt(stats.zero_breakdown_tokens)} tokens in that field "
                    f"({'exactly the difference' if dcw == stats.zero_breakdown_tokens else 'NOT the difference'}). "
                    f"We count the field; ccusage {ccusage[0]} sums the breakdown when the object exists.")  # fmt: skip
            dout = ours_total.output - theirs["total"].output
            if dout:
                lines.append(f"output: ours − ccusage = {fmt(dout)}; a first-line rule would give "
                             f"{fmt(stats.output_first)} (ours − first = {fmt(stats.output_largest - stats.output_first)}).")
        results["full_read"] = {"bytes": size, "summary": summary, "labels": labels,
                                "runs": {k: [{f: r[f] for f in ("wall", "cpu", "maxrss_mb")} for r in v] for k, v in runs.items()},
                                "ours_total": ours_total.to_dict(), "ccusage_version": ccusage[0] if ccusage else None,
                                "ccusage_total": theirs["total"].to_dict() if theirs else None,
                                "raw_mb_s": size / MB / raw, "stats": stats.to_dict()}  # fmt: skip

        # the rules probe
        probe = run_probe(root, ccusage, home)
        lines += ["", "## Rules probe (one small session per case; input/output/cache_read/cache_write)", "",
                  "| case | ours | ccusage | same |", "|---|---|---|---|"]  # fmt: skip
        for stem, o, t in probe:
            lines.append(f"| {stem} | {show(o)} | {show(t) if t is not None else '—'} | "
                         f"{'—' if t is None else ('yes' if o == t else 'no')} |")  # fmt: skip
        results["probe"] = [{"case": s, "ours": o.to_dict(), "ccusage": t.to_dict() if t else None} for s, o, t in probe]

        # 5. tick cost
        tick_rows: list[TickRow] = []
        charged = expected_ours
        if not args.no_tick:
            hist = [int(x) for x in args.tick_history.split(",")]
            apps = [float(x) for x in args.tick_append.split(",")]
            log(f"tick cost: {args.tick_files} files, history {hist} MB, appends {apps} MB, load {load()}")
            tick_rows, first_reads = tick_bench(root, args.seed, hist, args.tick_files, apps, args.tick_reps, log)
            lines += ["", (f"## Tick cost ({args.tick_files} transcripts, appended across 4 of them; "
                           f"median of {args.tick_reps}, load {load()})"), "",
                      ("| history | appended | read_claude pass ms (wall / CPU) | Ledger.poll ms (wall / CPU; incl. save) "
                       "| state KB | tokens = generator |"),
                      "|---:|---:|---:|---:|---:|---|"]  # fmt: skip
            med = statistics.median
            for r in tick_rows:
                lines.append(f"| {r.history_mb:,.0f} MB | {r.appended_mb:g} MB | {med(r.read_ms):.1f} / {med(r.read_cpu_ms):.1f} | "
                             f"{med(r.poll_ms):.1f} / {med(r.poll_cpu_ms):.1f} | {r.state_kb:,.0f} | {'yes' if r.ok else 'NO'} |")  # fmt: skip
            lines.append("")
            lines.append("First (full) read of the tick history: " + ", ".join(
                f"{h} MB at {v:,.0f} MB/s" for h, v in first_reads.items()) + ".")  # fmt: skip
            if len(hist) >= 2:
                lo, hi = min(hist), max(hist)
                by = {(r.requested_mb, r.appended_mb): r for r in tick_rows}
                for a in apps:
                    r_lo, r_hi = by[lo, a], by[hi, a]
                    lines.append(f"+{a:g} MB: tick at {hi} MB history / at {lo} MB history = "
                                 f"read_claude {med(r_hi.read_ms) / med(r_lo.read_ms):.2f}× wall, "
                                 f"{med(r_hi.read_cpu_ms) / max(med(r_lo.read_cpu_ms), 1e-3):.2f}× CPU; "
                                 f"Ledger.poll {med(r_hi.poll_ms) / med(r_lo.poll_ms):.2f}× wall, "
                                 f"{med(r_hi.poll_cpu_ms) / max(med(r_lo.poll_cpu_ms), 1e-3):.2f}× CPU.")  # fmt: skip
            # the same ledger over every transcript of the set, as one agent whose project folder holds them
            files = [root / s["path"] for s in manifest["sessions"].values()]
            led = Ledger(root / "tick" / "ledger-all", ["agent"], lambda a: [("claude", p) for p in files])
            t0 = time.perf_counter()
            led.poll(time.time(), "p1", None, since=time.time())  # an earlier run's history: skipped to its end, not read
            first_poll = time.perf_counter() - t0
            idle = []
            mtime_ns = led.state_path.stat().st_mtime_ns
            for _ in range(args.tick_reps):
                t0 = time.perf_counter()
                led.poll(time.time(), "p1", None, since=0)
                idle.append((time.perf_counter() - t0) * 1000)
            rewritten = led.state_path.stat().st_mtime_ns != mtime_ns
            t0 = time.perf_counter()
            for f in files:
                led.scanner.read_claude(f)
            reads_only = (time.perf_counter() - t0) * 1000
            state_mb = led.state_path.stat().st_size / MB
            # the same files charged from their start: the live path reads all of it in-process
            full = Ledger(root / "tick" / "ledger-all-read", ["agent"], lambda a: [("claude", p) for p in files])
            t0, c0 = time.perf_counter(), time.process_time()
            charged = sum(full.poll(time.time(), "p1", None).values(), Usage())
            full_wall, full_cpu = time.perf_counter() - t0, time.process_time() - c0
            keys = sum(len(d.get("keys", [])) for d in full.scanner.to_state()["files"].values())
            full_state_mb = full.state_path.stat().st_size / MB
            lines.append("")
            lines.append(f"Ledger over all {len(files)} transcripts of the set ({size / MB:,.0f} MB, as one agent's project "
                         f"folder): first poll {first_poll:.2f} s with the files as an earlier run's history (skipped to "
                         f"their end), then an idle poll {statistics.median(idle):.1f} ms (median of {args.tick_reps}; the "
                         f"read_claude pass alone {reads_only:.1f} ms; state file {state_mb:.2f} MB, "
                         f"{'rewritten' if rewritten else 'not rewritten'} by idle polls). Charged from their start instead, "
                         f"the first poll reads everything in-process: {full_wall:.1f} s wall, {full_cpu:.1f} s CPU "
                         f"({size / MB / full_wall:,.0f} MB/s), tokens = generator: {'yes' if charged == expected_ours else 'NO'}; "
                         f"state file {full_state_mb:.1f} MB ({fmt(keys)} de-duplication keys).")  # fmt: skip
            results["ledger_all"] = {"files": len(files), "first_poll_s": first_poll, "idle_poll_ms": idle,
                                     "idle_rewrites_state": rewritten, "reads_only_ms": reads_only, "state_mb": state_mb,
                                     "full_read_wall_s": full_wall, "full_read_cpu_s": full_cpu, "full_state_mb": full_state_mb,
                                     "keys": keys, "charged_ok": charged == expected_ours}  # fmt: skip
            results["tick"] = [{"history_mb": r.history_mb, "appended_mb": r.appended_mb, "read_ms": r.read_ms,
                                "read_cpu_ms": r.read_cpu_ms, "poll_ms": r.poll_ms, "poll_cpu_ms": r.poll_cpu_ms,
                                "ok": r.ok, "state_kb": r.state_kb} for r in tick_rows]  # fmt: skip
        lines.append("")
        lines.append(f"Load average at the end: {load()}.")
        log("\n".join(lines))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=lambda u: u.to_dict()))
        ok = cli_totals == {json.dumps(expected_ours.to_dict())} and lib_total == expected_ours and charged == expected_ours
        return 0 if ok and all(r.ok for r in tick_rows) else 1
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(root / "tick", ignore_errors=True)
        shutil.rmtree(root / "probe", ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root / "projects", ignore_errors=True)
            (root / "manifest.json").unlink(missing_ok=True)
            try:
                root.rmdir()
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
