"""The watchdog driver: one per project (a lock in log_dir), a tick every `signal_interval`.

Each tick: re-read agents.toml (an edit that does not validate is logged loudly and the last good
config stays in force) → one bulk tmux observation → captures only of panes whose activity
changed (or whose facts a policy is waiting for) → pure policies → the executor → state saved
atomically. Heal runs on heavy ticks, every `heavy_interval`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent_orchestrator.config import Config, ConfigError, load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.tokens.ledger import Ledger
from agent_orchestrator.runtime.tmux import TmuxError, TmuxRuntime, agent_pid, exit_record
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.executor import Executor
from agent_orchestrator.screen.facts import read_facts
from agent_orchestrator.transcripts.discovery import agent_home, transcript_files
from agent_orchestrator.handoff.gitrepo import GitError, GitRepo
from agent_orchestrator.handoff.markers import has_done_marker
from agent_orchestrator.watchdog.model import AgentView, CommitView, GitView, PhaseView, Tick
from agent_orchestrator.watchdog.policies import run_policies
from agent_orchestrator.watchdog.policies.phases import restart_loop_agents, set_phase
from agent_orchestrator.watchdog.state import AgentState, WatchdogState, load_state, save_state, sequence_marker


class LockHeld(RuntimeError):
    """Another watchdog holds the project's lock; `pid` names it."""

    def __init__(self, path: Path, pid: str) -> None:
        super().__init__(f"another watchdog is running for this project (pid {pid or 'unknown'}, lock {path})")
        self.pid = pid


class ProjectLock:
    """An exclusive flock on `<log_dir>/watchdog.lock` holding the owner's pid.

    The kernel drops a flock when its process dies, so a stale lock from a dead watchdog is taken
    over without any cleanup. Raises LockHeld when a live process holds it.
    """

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / "watchdog.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def lock_holder(log_dir: Path) -> int | None:
    """Pid of the live watchdog holding the project's lock, or None."""
    path = Path(log_dir) / "watchdog.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def claude_session_status(view_home: Path, pid: int | None) -> str | None:
    """Claude Code's `$HOME/.claude/sessions/<pid>.json` "status" (2.1.197) if the pid is alive.

    A SIGKILLed Claude leaves the file behind with a stale "busy": a dead pid means no signal.
    """
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    try:
        data = json.loads((view_home / ".claude" / "sessions" / f"{pid}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


class Watchdog:
    """The tick loop for the project whose config is at `config_path`.

    `clock` returns epoch seconds (injected in tests). Raises ConfigError at construction when the
    config does not validate (there is no last good one yet).
    """

    def __init__(self, config_path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.config_path = Path(config_path)
        self.clock = clock
        self.config: Config = load_config(self.config_path)
        self.config_stamp: tuple[int, int] | None = None
        self.project = Project(self.config)
        self.events = EventLog(self.log_dir)
        self.state: WatchdogState = load_state(self.log_dir)
        self.stop_event = threading.Event()
        self.lock = ProjectLock(self.log_dir)
        self.captures = 0  # pane captures done, for the benchmark
        self.restart_loop = ""  # set when a phase verb moved the machine: loop agents restart
        self.ledger: Ledger | None = None
        self.panes: dict = {}

    @property
    def log_dir(self) -> Path:
        return Path(self.config.defaults.log_dir)

    # -- config ----------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the config when agents.toml changed (size or mtime); keep the last good one
        when the edit does not validate."""
        try:
            st = self.config_path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp is not None and stamp == self.config_stamp:
            return
        self.config_stamp = stamp
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            text = "\n".join(exc.lines)
            if text != self.state.config_error:
                self.state.config_error = text
                self.events.emit("", "config-invalid", f"agents.toml does not validate; keeping the last good config: {exc.lines[0]}",
                                 self.clock(), errors=exc.lines)
            return
        if self.state.config_error:
            self.state.config_error = ""
            self.events.emit("", "config-valid", "agents.toml validates again", self.clock())
        if config.defaults.tmux_socket != self.config.defaults.tmux_socket:
            self.project = Project(config)
        else:
            self.project = Project(config, self.project.runtime)
        self.config = config

    # -- requests from the CLI -------------------------------------------------------------
    def take_requests(self) -> None:
        """Apply requests the CLI dropped in `<log_dir>/state/requests/` (e.g. `restart` clears needs-human)."""
        folder = self.log_dir / "state" / "requests"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                request = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                request = {}
            path.unlink(missing_ok=True)
            name = str(request.get("agent", ""))
            action = request.get("action")
            st = self.state.agent(name)
            if action == "clear":
                st.needs_human, st.restarts, st.failed_starts, st.next_restart_at = "", [], 0, 0.0
                st.limit, st.dialogs_answered, st.pending = None, 0, []
                st.last_start = self.clock()
                st.idle_since, st.facts, st.last_activity = self.clock(), None, None
                self.events.emit(name, "cleared", "restarted by hand (agents restart)", self.clock())
            elif action in ("pause", "resume"):
                st.paused = action == "pause"
                self.events.emit(name, action, f"{action}d by hand", self.clock())
            elif action == "phase" and isinstance(request.get("index"), int):
                set_phase(self.state, request["index"], self.clock(), reset=bool(request.get("reset")))
                sequence_marker(self.log_dir).unlink(missing_ok=True)
                self.restart_loop = f"phase set by hand ({request.get('why', 'phase verb')})"
                self.events.emit("", "phase-set", self.restart_loop, self.clock(), index=request["index"])

    # -- one tick --------------------------------------------------------------------------
    def observe(self, now: float) -> dict[str, AgentView]:
        """One bulk observation, then captures only where the screen may have changed."""
        runtime: TmuxRuntime = self.project.runtime
        panes = self.panes = runtime.observe()
        views: dict[str, AgentView] = {}
        for agent in self.config.agents:
            backend = self.config.backend_of(agent)
            pane = panes.get(agent.session or "")
            st = self.state.agent(agent.name)
            alive = pane is not None and not pane.dead and not pane.exited_to_shell(backend.process_name)
            session_status = None
            if alive and backend.screen == "claude":
                session_status = claude_session_status(agent_home(self.config, agent), agent_pid(self.project.spec_dir, agent.session or ""))
            captured = False
            if alive and agent.enabled and self._needs_capture(st, pane.window_activity):
                try:
                    screen = runtime.capture(agent.session or "")
                except TmuxError:
                    screen = None
                if screen is not None:
                    self.captures += 1
                    facts = read_facts(screen, backend, current_command=pane.current_command, now=now, session_status=session_status)
                    if st.facts is None or facts.hash != st.facts.hash:
                        # The screen changed: tmux's activity time is when it last did.
                        st.idle_since = pane.window_activity if st.idle_since is None else max(pane.window_activity, st.idle_since)
                    st.facts, st.last_activity, captured = facts, pane.window_activity, True
            if st.idle_since is None and pane is not None:
                st.idle_since = pane.window_activity  # a watchdog that lost its state sees the true idle time
            run_seconds = None
            if pane is not None and pane.dead:
                record = exit_record(self.project.spec_dir, agent.session or "")
                if record is not None:
                    run_seconds = float(record.get("ended", 0)) - float(record.get("started", 0))
            views[agent.name] = AgentView(agent.name, agent, backend, pane, st.facts, captured, session_status, run_seconds,
                                          agent_pid(self.project.spec_dir, agent.session or ""))
        return views

    def _needs_capture(self, st: AgentState, activity: float) -> bool:
        facts = st.facts
        if facts is None or st.last_activity is None or activity != st.last_activity:
            return True
        if activity >= int(facts.captured_at):
            return True  # output in the same second as the last capture may have come after it
        limit = st.limit
        return bool(limit and limit.probe_sent_at and facts.captured_at <= limit.probe_sent_at)

    def phase_view(self) -> PhaseView:
        """The loop's current phase; `done` as last read from the pushed status file."""
        loop = self.config.loop
        ph = self.state.phase
        if loop is None or not loop.phases:
            return PhaseView(complete=ph.complete)
        index = min(ph.index, len(loop.phases) - 1)
        phase = loop.phases[index]
        hs = self.state.handoff
        done = hs.status_done and hs.checked_phase == index
        return PhaseView(index, phase.id, phase.status, loop.done_marker, done=done, complete=ph.complete)

    def observe_git(self) -> GitView | None:
        """Fetch the handoff repo and read what the policies need (None without a [loop].repo).

        Per tick: `git fetch` + `rev-parse`; only when origin/main moved: the new commits, the
        inbox blob ids and the status file. Failures come back as `ok=False`, never raised.
        """
        loop = self.config.loop
        if loop is None or loop.repo is None or not loop.phases or self.state.phase.complete:
            return None
        repo = GitRepo(Path(loop.repo), timeout=loop.handoff.fetch_timeout)
        fetched = repo.fetch()
        if not fetched.ok:
            return GitView(ok=False, error=fetched.error)
        head = fetched.head
        hs = self.state.handoff
        index = min(self.state.phase.index, len(loop.phases) - 1)
        if head is None:
            return GitView(ok=True)
        try:
            commits: tuple[CommitView, ...] = ()
            rewritten = False
            if hs.last_seen is not None and head != hs.last_seen:
                found, rewritten = repo.commits_between(hs.last_seen, head)
                commits = tuple(CommitView(c.sha, c.subject, c.ts) for c in found)
            elif hs.last_seen is None:
                # First sight: what was pushed since the run started is new (a claim may beat the
                # first fetch); anything older is history and is not pinged.
                since = self.run_started()
                commits = tuple(CommitView(c.sha, c.subject, c.ts) for c in reversed(repo.log(head, limit=50)) if c.ts >= since)
            inbox = hs.inbox
            if head != hs.last_seen or hs.last_seen is None:
                inbox = repo.blob_ids(list(loop.handoff.inboxes)) if loop.handoff.inboxes else {}
            if head != hs.checked_head or index != hs.checked_phase:
                text = repo.show(loop.phases[index].status)
                hs.status_done = text is not None and has_done_marker(text, loop.done_marker)
                hs.checked_head, hs.checked_phase = head, index
        except GitError as exc:
            return GitView(ok=False, error=str(exc))
        return GitView(ok=True, head=head, commits=commits, rewritten=rewritten, inbox_blobs=dict(inbox), status_done=hs.status_done)

    def tick(self) -> Tick:
        """One full tick; returns what the policies saw (for tests and the benchmark)."""
        self.reload()
        self.take_requests()
        now = self.clock()
        heavy = now - self.state.last_heavy >= self.config.watchdog.heavy_interval
        if heavy:
            self.state.last_heavy = now
        views = self.observe(now)
        services = {s.name: self.panes.get(s.session or "") for s in self.config.services}
        git = self.observe_git()
        tick = Tick(self.config, self.state, views, now, self.phase_view(), heavy, services, git)
        ledger = self.poll_tokens(now, views)
        first = restart_loop_agents(tick, self.restart_loop) if self.restart_loop else []
        self.restart_loop = ""
        actions = run_policies(tick, first)
        Executor(self.project, self.events, checkpoint=lambda: save_state(self.log_dir, self.state), ledger=ledger).apply(tick, actions)
        self.state.extra["last_tick"] = now
        self.state.extra["pid"] = os.getpid()
        save_state(self.log_dir, self.state)
        return tick

    def run_started(self) -> float:
        """Epoch when this run began: the first tick, or the oldest agent session if older.
        Persisted, so a restarted watchdog keeps it."""
        if "run_started" not in self.state.extra:
            created = [p.created for p in self.panes.values() if p.created]
            self.state.extra["run_started"] = min([self.clock(), *created])
        return float(self.state.extra["run_started"])

    def poll_tokens(self, now: float, views: dict[str, AgentView]) -> Ledger | None:
        """Charge what the agents' transcripts gained to the open phase/gate (log_tokens only).

        After the last phase the loop agents finish their turn after the marker was pushed: the
        last phase stays open until they are all idle (or 5 minutes passed), then it is closed.
        """
        if not self.config.watchdog.log_tokens:
            return None
        names = [a.name for a in self.config.agents]
        if self.ledger is None or self.ledger.agents != names or self.ledger.granularity != self.config.watchdog.token_granularity:
            by_name = {a.name: a for a in self.config.agents}
            self.ledger = Ledger(self.log_dir, names, lambda n: transcript_files(self.config, by_name[n]),
                                 self.config.watchdog.token_granularity)
        if "run_started" not in self.state.extra:
            created = [p.created for p in self.panes.values() if p.created]
            self.state.extra["run_started"] = min([now, *created])
        ph = self.state.phase
        if ph.complete:
            last = (self.ledger.phase or {}).get("phase_id")
            self.ledger.poll(now, last, (self.ledger.gate or {}).get("gate"), since=self.run_started())
            loop_busy = any(v.busy for v in views.values() if v.agent.kind == "loop")
            if last and (not loop_busy and now > (ph.completed_at or now) or now - (ph.completed_at or now) > 300):
                self.ledger.close_phase(now, last)
            return self.ledger
        # Without a [loop] the whole run is one bucket, "run" (`tokens --live` shows it).
        phase = self.phase_view().phase_id or "run"
        self.ledger.poll(now, phase, self.state.handoff.gate, since=self.run_started())
        return self.ledger

    # -- the loop --------------------------------------------------------------------------
    def run(self, once: bool = False) -> None:
        """Hold the lock and tick until stopped (SIGTERM/SIGINT) — or once. Raises LockHeld."""
        self.lock.acquire()
        self.state = load_state(self.log_dir)  # what the previous holder left, read under the lock
        previous = {sig: signal.signal(sig, lambda *_: self.stop_event.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.events.emit("", "watchdog-start", f"pid {os.getpid()}, config {self.config_path}", self.clock())
            while not self.stop_event.is_set():
                try:
                    self.tick()
                except Exception as exc:  # a bad tick must not end supervision; it is logged loudly
                    self.events.emit("", "tick-error", f"{type(exc).__name__}: {exc}", self.clock())
                if once:
                    break
                self.stop_event.wait(self.config.watchdog.signal_interval)
            self.events.emit("", "watchdog-stop", "stopped cleanly", self.clock())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.lock.release()

