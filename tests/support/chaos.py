"""Chaos for the watchdog (issue 12): SIGKILLs of the live watchdog at random and at the riskiest
moments, the other faults of the campaign, and the invariants a run must keep anyway.

Used by tests/e2e/test_chaos.py (the short form CI runs) and bench/chaos.py (≥ 100 kills).

- `Killer`: SIGKILLs the project's live watchdog — the pid holding its lock
  (`watchdog.lock.lock_holder`), checked to be an `agents watchdog` process first — 0.2–2.5 s
  (seeded RNG) after each watchdog took the lock, and at the riskiest moments with per-moment
  odds: right after a paste reached a pane or a key was sent to one (the submit key: tmux's
  `after-paste-buffer` / `after-send-keys` hooks signal a `wait-for` channel the killer blocks
  on), right after the state or token checkpoint was
  replaced (`state/watchdog.json`, `state/tokens.json`), a launch spec was written (a start going
  out, `launch/<session>.json`), an event was logged (an effect done) or SEQUENCE-COMPLETE
  written — file changes seen through inotify (watchfiles). Nothing restarts the watchdog but its
  pane launcher; the killer only waits, bounded, for the next holder. It measures, per kill,
  the time to the next lock holder and to that watchdog's first saved tick (`recovered_s`).
- Faults: `corrupt_state` (after a kill, before the launcher's restart), `kill_agent` (an agent's
  CLI process), `ConfigEdit` (an edit of agents.toml and its revert).
- `check_run`: the invariants, on a finished `run_rehearsal` of examples/builder-adversary:
  SEQUENCE-COMPLETE reached, the git story as the playbook tells it, each claim/review ping
  received exactly once by its agent (user prompts in its transcripts holding the commit's
  short sha, plus a prompt its CLI accepted — UserPromptSubmit — in a session killed before it
  wrote it; re-announcements counted apart — they follow an agent restart only), the reporter
  run once, the ledger's phase totals = `tokens --scan` of the loop agents' transcripts, the
  watchdog back after every kill by its launcher alone, no `.watchdog-*` / `.tokens-*` temp file.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_orchestrator.transcripts.reader import iter_events
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.lock import lock_holder

MOMENTS = ("paste", "submit", "state-save", "tokens-save", "start", "event", "marker")
# Odds of a kill at each riskiest moment (the random timer runs beside them).
DEFAULT_ODDS: Mapping[str, float] = {"paste": 0.5, "submit": 0.5, "state-save": 0.05, "tokens-save": 0.05, "start": 0.5,
                                     "event": 0.02, "marker": 1.0}
# The moments tmux itself signals: a hook on the command runs `wait-for -S <channel>` (a latch:
# a signal with nobody waiting is kept for the next waiter), and a thread blocks on the channel.
TMUX_MOMENTS = {"paste": ("after-paste-buffer", "ao-chaos-paste"), "submit": ("after-send-keys", "ao-chaos-keys")}
HOLDER_TIMEOUT = 60.0  # seconds a killed watchdog may take to be back (the launcher restarts it in ~0.5 s)
GONE_TIMEOUT = 10.0  # seconds for a SIGKILLed process to be reaped


@dataclass
class Kill:
    """One SIGKILL: when (epoch s), which pid, why ("timer" or a moment of MOMENTS), and when the
    next watchdog held the lock (`back_at`) and saved its first tick (`recovered_at`)."""

    at: float
    pid: int
    why: str
    back_at: float | None = None
    back_pid: int | None = None
    recovered_at: float | None = None

    @property
    def back_s(self) -> float | None:
        """Seconds from the kill to the next lock holder."""
        return None if self.back_at is None else self.back_at - self.at

    @property
    def recovered_s(self) -> float | None:
        """Seconds from the kill to the next watchdog's first tick on disk."""
        return None if self.recovered_at is None else self.recovered_at - self.at


@dataclass
class ChaosReport:
    """What a `Killer` did: its kills, what it could not do (`errors`) and its seed."""

    seed: int
    kills: list[Kill] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def by_reason(self) -> dict[str, int]:
        """Kills per reason."""
        return dict(Counter(k.why for k in self.kills))

    def recovered(self) -> list[float]:
        """Seconds to recover, per kill that was recovered from."""
        return [k.recovered_s for k in self.kills if k.recovered_s is not None]


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0–1) of `values`, linear between ranks (nan for none)."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]


def is_watchdog(pid: int) -> bool:
    """Whether `pid` is an `agents watchdog` process (never kill anything else)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"agent_orchestrator" in b" ".join(argv) and b"watchdog" in argv


def wait_gone(pid: int, timeout: float = GONE_TIMEOUT) -> bool:
    """Wait (bounded) until `pid` is no more (reaped, or a zombie); True when it is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return True
        time.sleep(0.005)
    return False


def live_holder(log_dir: Path) -> int | None:
    """Pid of the watchdog holding the project's lock, or None."""
    pid = lock_holder(log_dir)
    return pid if pid is not None and pid > 0 else None


class Killer:
    """SIGKILLs the project's live watchdog again and again (see the module docstring).

    `seed` seeds the timer (its own RNG, so the intervals do not depend on which moments came)
    and the moments' draws; `interval` (seconds) bounds the random life of each watchdog;
    `odds` maps a moment of MOMENTS to the chance of a kill when it happens; `max_kills` stops
    the killing (the run goes on); `after_kill(pid)` runs right after each kill, before the
    next watchdog is awaited (e.g. `corrupt_state`).
    """

    def __init__(self, log_dir: Path, tmux_socket: str | None, *, seed: int, interval: tuple[float, float] = (0.2, 2.5),
                 odds: Mapping[str, float] = DEFAULT_ODDS, max_kills: int | None = None,
                 after_kill: Callable[[Kill], None] | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.socket = tmux_socket
        self.interval = interval
        self.odds = dict(odds)
        self.max_kills = max_kills
        self.after_kill = after_kill
        self.report = ChaosReport(seed)
        self._timer = random.Random(seed)
        self._draws = random.Random(seed + 1)
        self._triggers: queue.Queue[tuple[str, float]] = queue.Queue()
        self._stop = threading.Event()
        self._first_tick: dict[int, float] = {}  # watchdog pid -> when its first tick was on disk
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._waiters: list[subprocess.Popen[bytes]] = []

    # -- control ---------------------------------------------------------------------------
    def start(self) -> Killer:
        """Arm the moments and start killing."""
        for moment, (hook, channel) in TMUX_MOMENTS.items():
            if self.socket and self.odds.get(moment, 0) > 0:
                self._tmux("set-hook", "-g", hook, f"wait-for -S {channel}")
                self._threads.append(threading.Thread(target=self._tmux_moment, args=(moment, channel), name=f"chaos-{moment}",
                                                      daemon=True))
        self._threads.append(threading.Thread(target=self._files, name="chaos-files", daemon=True))
        self._threads.append(threading.Thread(target=self._kill_loop, name="chaos-killer", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> ChaosReport:
        """Stop killing, wait for the last watchdog to be back, and return the report."""
        self._stop.set()
        if self.socket:
            for hook, channel in TMUX_MOMENTS.values():
                self._tmux("set-hook", "-gu", hook)
                self._tmux("wait-for", "-S", channel)  # releases a blocked waiter
        for thread in self._threads:
            thread.join(timeout=30)
        for waiter in self._waiters:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait(timeout=10)
        self._settle_last()
        return self.report

    def _tmux(self, *args: str) -> None:
        subprocess.run(["tmux", "-L", self.socket or "", *args], capture_output=True, check=False, timeout=30)

    # -- what happens ------------------------------------------------------------------------
    def _tmux_moment(self, moment: str, channel: str) -> None:
        while not self._stop.is_set():
            waiter = subprocess.Popen(["tmux", "-L", self.socket or "", "wait-for", channel],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._waiters.append(waiter)
            code = waiter.wait()
            if self._stop.is_set() or code != 0:
                return  # stopped, or the server is gone
            self._triggers.put((moment, time.time()))

    def _moment(self, path: Path) -> str | None:
        rel = path.relative_to(self.log_dir) if path.is_relative_to(self.log_dir) else None
        if rel is None:
            return None
        parts = rel.parts
        if parts == ("state", "watchdog.json"):
            return "state-save"
        if parts == ("state", "tokens.json"):
            return "tokens-save"
        if len(parts) == 2 and parts[0] == "launch" and parts[1].endswith(".json") and not parts[1].startswith("."):
            return "start"
        if parts == ("events.jsonl",):
            return "event"
        if parts == ("SEQUENCE-COMPLETE",):
            return "marker"
        return None

    def _files(self) -> None:
        import watchfiles

        for batch in watchfiles.watch(self.log_dir, watch_filter=None, debounce=5, step=2, stop_event=self._stop,
                                      rust_timeout=200, yield_on_timeout=True, raise_interrupt=False):
            now = time.time()
            for change, raw in batch:
                if change == watchfiles.Change.deleted:
                    continue
                moment = self._moment(Path(raw))
                if moment == "state-save":
                    self._saw_tick(now)
                if moment is not None:
                    self._triggers.put((moment, now))

    def _saw_tick(self, now: float) -> None:
        try:
            pid = json.loads((self.log_dir / "state" / "watchdog.json").read_text(encoding="utf-8")).get("pid")
        except (OSError, ValueError, AttributeError):
            return
        if isinstance(pid, int):
            with self._lock:
                self._first_tick.setdefault(pid, now)

    # -- killing -----------------------------------------------------------------------------
    def _await_holder(self, not_pid: int | None) -> tuple[int, float] | None:
        deadline = time.monotonic() + HOLDER_TIMEOUT
        while not self._stop.is_set():
            pid = live_holder(self.log_dir)
            if pid is not None and pid != not_pid:
                return pid, time.time()
            if time.monotonic() > deadline:
                self.report.errors.append(f"no watchdog held the lock {HOLDER_TIMEOUT:g}s after killing pid {not_pid}")
                return None
            time.sleep(0.01)
        return None

    def _kill_loop(self) -> None:
        last: int | None = None
        while not self._stop.is_set():
            found = self._await_holder(last)
            if found is None:
                return
            pid, since = found
            if self.report.kills:
                previous = self.report.kills[-1]
                previous.back_at, previous.back_pid = since, pid
            if self.max_kills is not None and len(self.report.kills) >= self.max_kills:
                return
            why = self._wait_for_reason(since)
            if why is None:
                return
            if live_holder(self.log_dir) != pid or not is_watchdog(pid):
                last = None  # it went away on its own (or is not ours): look again
                continue
            kill = Kill(time.time(), pid, why)
            os.kill(pid, signal.SIGKILL)
            self.report.kills.append(kill)
            last = pid
            if self.after_kill is not None:
                self.after_kill(kill)

    def _wait_for_reason(self, since: float) -> str | None:
        """The reason to kill now: a moment that won its draw, or the timer; None when stopped."""
        deadline = time.monotonic() + self._timer.uniform(*self.interval)
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return "timer"
            try:
                moment, at = self._triggers.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if at >= since and self._draws.random() < self.odds.get(moment, 0.0):
                return moment
        return None

    def _settle_last(self) -> None:
        """Wait (bounded) for the last killed watchdog's successor; fill in when each one was
        back and ticking."""
        if self.report.kills and self.report.kills[-1].back_at is None:
            last = self.report.kills[-1]
            deadline = time.monotonic() + HOLDER_TIMEOUT
            while (found := live_holder(self.log_dir)) in (None, last.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            if found is not None and found != last.pid:
                last.back_at, last.back_pid = time.time(), found
            else:
                self.report.errors.append(f"no watchdog held the lock {HOLDER_TIMEOUT:g}s after the last kill (pid {last.pid})")
        starts = sorted((float(e["ts"]), int(str(e.get("reason", "")).split()[1].rstrip(",")))
                        for e in read_events(self.log_dir) if e.get("action") == "watchdog-start")
        with self._lock:
            first = dict(self._first_tick)
        for kill in self.report.kills:
            if kill.back_pid is None:
                kill.back_pid = next((pid for ts, pid in starts if ts >= kill.at - 0.01 and pid != kill.pid), None)
            if kill.back_pid is not None and kill.back_pid in first:
                kill.recovered_at = first[kill.back_pid]


# -- faults ----------------------------------------------------------------------------------
BAD_STATES = {
    "garbage": '{"version": 2, "agents": {"builder": ',
    "wrong-shape": '{"version": 2, "phase": null, "extra": [], "agents": []}',
}


def corrupt_state(log_dir: Path, how: str) -> Callable[[Kill], None]:
    """An `after_kill` that replaces `state/watchdog.json` with a bad one (BAD_STATES[how]) once
    the killed watchdog is gone and before the launcher's restart reads it."""

    def corrupt(kill: Kill) -> None:
        wait_gone(kill.pid)
        path = Path(log_dir) / "state" / "watchdog.json"
        tmp = path.with_name("chaos-corrupt.tmp")
        tmp.write_text(BAD_STATES[how], encoding="utf-8")
        os.replace(tmp, path)

    return corrupt


class ChaosError(RuntimeError):
    """A scripted fault could not be carried out (what it waited for never happened in time)."""


def wait_for(what: str, check: Callable[[], Any], timeout: float, poll: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (returned), for at most `timeout` seconds;
    raises ChaosError naming `what` after that."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise ChaosError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)


def event_after(log_dir: Path, action: str, after: float, agent: str | None = None) -> dict[str, Any] | None:
    """The first event `action` (of `agent`) logged at or after `after` (epoch s), or None."""
    return next((e for e in read_events(log_dir) if e.get("action") == action and float(e.get("ts", 0)) >= after
                 and (agent is None or e.get("agent") == agent)), None)


def kill_watchdog(log_dir: Path, *, corrupt: str | None = None, timeout: float = HOLDER_TIMEOUT) -> tuple[int, int]:
    """SIGKILL the live watchdog (optionally leaving a bad state file, BAD_STATES[corrupt], for
    its successor) and wait for the launcher's restart to hold the lock: (killed pid, new pid)."""
    pid = wait_for("a live watchdog", lambda: live_holder(log_dir), timeout)
    if not is_watchdog(pid):
        raise ChaosError(f"pid {pid} holds the lock of {log_dir} but is no watchdog")
    os.kill(pid, signal.SIGKILL)
    if corrupt is not None:
        corrupt_state(log_dir, corrupt)(Kill(time.time(), pid, "scripted"))
    new = wait_for(f"a watchdog after killing pid {pid}", lambda: (h := live_holder(log_dir)) not in (None, pid) and h, timeout)
    return pid, int(new)


def journal(log_dir: Path) -> list[dict[str, Any]]:
    """The scripted model server's journal (`<log_dir>/model-journal.jsonl`: what it answered)."""
    path = Path(log_dir) / "model-journal.jsonl"
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def kill_agent(spec_dir: Path, session: str) -> int | None:
    """SIGKILL the agent CLI the launcher runs in `session` (its `.pid` record); its pid or None."""
    from agent_orchestrator.runtime.launcher import agent_pid

    pid = agent_pid(spec_dir, session)
    if pid is None:
        return None
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return pid


# -- invariants -------------------------------------------------------------------------------
STORY = [
    "claim(G1): wc counts lines, words and bytes", "review(G1): FAIL - no test covers empty input",
    "claim(G1): cover empty input", "review(G1): PASS", "status(p1): every gate has a PASS",
    "claim(G2): --json output", "review(G2): PASS", "status(p2): every gate has a PASS",
]
REANNOUNCED = "Watchdog: you were restarted"


def git_log(origin: Path) -> list[tuple[str, str]]:
    """(sha, subject) of origin's main, oldest first."""
    out = subprocess.run(["git", "--git-dir", str(origin), "log", "--format=%H %s", "main"], capture_output=True, text=True,
                         check=True).stdout
    return [tuple(line.split(" ", 1)) for line in reversed(out.splitlines())]  # type: ignore[misc]


def user_prompts(home: Path, hooks: Path | None = None) -> list[str]:
    """Every user prompt (not tool results) in the Claude Code transcripts under `home`.

    With `hooks` (the agent's hook log, `<log_dir>/hooks/<agent>.jsonl`), a prompt the CLI
    accepted — its UserPromptSubmit event — that its session's transcript lacks counts too: a
    CLI SIGKILLed right after accepting a prompt (the reviewer killed mid-review) never wrote
    it to its transcript, though the agent received it."""
    prompts = []
    seen: dict[str, Counter[str]] = {}  # session id -> its transcript's prompts
    for path in sorted((home / ".claude" / "projects").glob("**/*.jsonl")):
        texts = [e.text for e in iter_events(path) if e.kind == "user"]
        seen[path.stem] = Counter(" ".join(t.split()) for t in texts)
        prompts += texts
    for session, text in _accepted(hooks) if hooks is not None else []:
        left = seen.setdefault(session, Counter())
        if left[" ".join(text.split())] > 0:
            left[" ".join(text.split())] -= 1
        else:
            prompts.append(text)
    return prompts


def _accepted(hooks: Path) -> list[tuple[str, str]]:
    """(session id, prompt) of each UserPromptSubmit in a hook log, oldest first."""
    out = []
    try:
        lines = hooks.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        data = record.get("data") if isinstance(record, dict) and record.get("event") == "UserPromptSubmit" else None
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            out.append((str(data.get("session_id") or ""), data["prompt"]))
    return out


def scanned(home: Path) -> int:
    """`agents tokens --scan` total of the Claude Code transcripts under `home` (0 for none)."""
    folder = home / ".claude" / "projects"
    if not folder.exists():
        return 0
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator", "tokens", "--scan", str(folder), "--json"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tokens --scan {folder}: {done.stderr.strip()}")
    total = json.loads(done.stdout)["total"]
    return int(total["total"]) if total else 0


@dataclass
class RunCheck:
    """The invariants of one chaos run: `problems` (empty when all held) and `figures`."""

    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def check_run(sandbox: Path, events: list[dict[str, Any]], tokens: list[dict[str, Any]], *, kills: int,
              supervise: Mapping[str, Any] | None, reannounced: Mapping[str, int] | None = None) -> RunCheck:
    """Check a finished builder-adversary rehearsal (sandbox kept) against the invariants.

    `kills`: SIGKILLs of the watchdog during the run; `supervise`: the launcher's supervision
    record of the watchdog's session (`runtime.launcher.supervision`); `reannounced`: how many
    re-announcement prompts each agent must have had (agent restarts), default none.
    """
    check = RunCheck()
    problems = check.problems
    log_dir = sandbox / "run"
    homes = log_dir / "homes"
    if not (log_dir / "SEQUENCE-COMPLETE").is_file():
        problems.append("SEQUENCE-COMPLETE was not written")
    commits = git_log(sandbox / "origin.git")
    subjects = [s for _, s in commits[1:]]
    check.figures["commits"] = len(subjects)
    if subjects != STORY:
        problems.append(f"the git story differs from the playbook's ({len(subjects)} commits): {subjects}")
    # Pings: each claim reaches the adversary once, each review the builder once.
    expected_again = dict(reannounced or {})
    pings: dict[str, Counter[str]] = {}
    for agent, pattern in (("adversary", r"^claim"), ("builder", r"^review")):
        prompts = user_prompts(homes / agent, log_dir / "hooks" / f"{agent}.jsonl")
        again = [p for p in prompts if p.startswith(REANNOUNCED)]
        plain = [p for p in prompts if not p.startswith(REANNOUNCED)]
        counts: Counter[str] = Counter()
        for sha, subject in commits:
            if re.search(pattern, subject):
                counts[sha[:8]] = sum(1 for p in plain if sha[:8] in p)
        pings[agent] = counts
        wrong = {sha: n for sha, n in counts.items() if n != 1}
        if wrong:
            problems.append(f"{agent}: pings received ≠ once per commit: {wrong}")
        if len(again) != expected_again.get(agent, 0):
            problems.append(f"{agent}: {len(again)} re-announcements, expected {expected_again.get(agent, 0)}")
    check.figures["pings"] = {a: sum(c.values()) for a, c in pings.items()}
    # The reporter ran once: one session, one prompt (its start's event may have died with a
    # watchdog; the next one then logs `on-complete-confirmed`).
    sessions = sorted((homes / "reporter" / ".claude" / "projects").glob("*/*.jsonl"))
    reporter_prompts = user_prompts(homes / "reporter", log_dir / "hooks" / "reporter.jsonl")
    if len(sessions) != 1 or len(reporter_prompts) != 1:
        problems.append(f"reporter: {len(sessions)} sessions, {len(reporter_prompts)} prompts (expected 1 and 1)")
    # The ledger's phase records = what the loop agents' transcripts hold.
    phases = [r for r in tokens if r.get("gate") is None]
    check.figures["ledger_phases"] = [r["phase_id"] for r in phases]
    if [r["phase_id"] for r in phases] != ["p1", "p2"]:
        problems.append(f"ledger phase records: {[r['phase_id'] for r in phases]} (expected p1, p2)")
    for agent in ("builder", "adversary"):
        recorded = sum(int(r["agents"].get(agent, {}).get("total", 0)) for r in phases)
        scan = scanned(homes / agent)
        check.figures[f"tokens_{agent}"] = recorded
        if recorded != scan:
            problems.append(f"{agent}: ledger {recorded:,} tokens ≠ tokens --scan {scan:,}")
    # Back after every kill, by the launcher alone.
    started = [e for e in events if e.get("action") == "watchdog-start"]
    check.figures["watchdog_starts"] = len(started)
    restarts = int(supervise.get("restarts", 0)) if supervise else 0
    check.figures["launcher_restarts"] = restarts
    if restarts != kills:
        problems.append(f"{kills} kills but {restarts} launcher restarts of the watchdog")
    if supervise is not None and supervise.get("state") != "running":
        problems.append(f"watchdog supervision: {supervise}")
    leftovers = sorted(p.name for p in (log_dir / "state").glob(".watchdog-*")) + sorted(p.name for p in (log_dir / "state").glob(".tokens-*"))
    if leftovers:
        problems.append(f"temp files left: {leftovers}")
    check.figures["errors"] = [e["reason"] for e in events if e.get("action") in ("tick-error", "policy-error", "action-error")]
    return check
