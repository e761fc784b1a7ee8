"""The watchdog driver: one per project (a lock in log_dir), a tick every `signal_interval`.

Between ticks it sleeps on the wake channel (watchdog/wake.py): a hook event from an agent CLI,
a CLI request or a post-receive hook wakes it at once; `signal_interval` is the backstop.

Each tick: re-read agents.toml (an edit that does not validate is logged loudly and the last good
config stays in force) → observe (one bulk tmux observation, captures only where needed, git,
requests, tokens) → `decide` (pure) → save the decided state (so a crash mid-effect restarts
from what was decided) → execute → `settle` the outcomes → save. Heal runs on heavy ticks,
every `heavy_interval`.

Everything the driver touches is injected — the tmux runtime, the git reader, the token ledger,
the clock and sleep — so a whole tick runs in tests against fakes, with no tmux and no sleeps.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent_orchestrator.config import AgentConfig, Config, ConfigError, ServiceConfig, lastgood, load_config
from agent_orchestrator.runtime.folders import ensure_control_dirs
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.tokens.ledger import Ledger
from agent_orchestrator.transcripts.discovery import transcript_files
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.executor import Executor
from agent_orchestrator.watchdog.lock import ProjectLock
from agent_orchestrator.watchdog.model import Action, Observation, Outcome
from agent_orchestrator.watchdog.observe import GitFactory, Observer, StatusReader, claude_session_status, requests_dir
from agent_orchestrator.watchdog.rebuild import rebuild_state
from agent_orchestrator.watchdog.settle import settle
from agent_orchestrator.watchdog.state import WatchdogState, read_state, state_path, to_json, write_atomic
from agent_orchestrator.watchdog.wake import WakeChannel, wake_dir

LedgerFactory = Callable[[Config], Ledger]


def default_ledger(config: Config) -> Ledger:
    """The project's token ledger over every agent's transcripts."""
    by_name = {a.name: a for a in config.agents}
    return Ledger(Path(config.defaults.log_dir), list(by_name), lambda n: transcript_files(config, by_name[n]),
                  config.watchdog.token_granularity)


@dataclass(frozen=True)
class TickResult:
    """What one tick saw, decided and did (for tests and the benchmark)."""

    observation: Observation
    actions: tuple[Action, ...] = ()
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)
    state: WatchdogState = field(default_factory=WatchdogState)


def identity_changes(running: Config, edited: Config, state: WatchdogState) -> str:
    """What an edit changes that must not be applied to a running team ("" when nothing).

    The identity of the team — `session_prefix`, `log_dir`, `tmux_socket` — applied live would
    start a second team beside the first (seen: 6 orphan sessions after an edit and its revert);
    removing `[loop]` in the middle of the sequence would split the token ledger into a phantom
    "run" phase. Moving a unit to another machine (its `host`, or that `[[host]]`'s ssh
    destination, tmux socket or log_dir) would leave its session running where it was. Those
    wait for `down`/`up`.
    """
    changed = [key for key in ("session_prefix", "log_dir", "tmux_socket")
               if getattr(running.defaults, key) != getattr(edited.defaults, key)]
    before, after = _machines(running), _machines(edited)
    moved = [name for name in before if name in after and before[name] != after[name]]
    if moved:
        changed.append(f"[host] of {', '.join(moved)}")
    if running.loop is not None and running.loop.phases and edited.loop is None and not state.phase.complete:
        changed.append("[loop] removed mid-sequence")
    return ", ".join(f"{c} changed" if not c.startswith("[") or c.startswith("[host]") else c for c in changed)


def _machines(config: Config) -> dict[str, tuple[str, ...]]:
    """Each unit's machine: () for this one, else its host's name, ssh, tmux socket and log_dir."""
    out: dict[str, tuple[str, ...]] = {}
    units: list[AgentConfig | ServiceConfig] = [*config.agents, *config.services]
    for unit in units:
        host = config.host_of(unit)
        out[unit.name] = (host.name, host.ssh, host.tmux_socket or "", host.log_dir) if host is not None else ()
    return out


def _last_good(config_path: Path) -> Config | None:
    """The project's last good config (`config.lastgood`), or None when there is none or it no
    longer validates."""
    try:
        found = lastgood.load(config_path) if config_path.exists() else None
    except ConfigError:
        return None
    return found[0] if found is not None else None


class _StopNow(Exception):
    """Raised by the watchdog's stop-signal handler into its idle wait between two ticks."""


class Watchdog:
    """The tick loop for the project whose config is at `config_path`.

    Collaborators (all optional; the real ones by default): `runtime` (the tmux server, protocol
    `runtime.protocol.Runtime`), `git` (builds the handoff repo reader from its path and fetch
    timeout), `ledger` (builds the token ledger from the config), `session_status` (reads Claude
    Code's status file), `clock` (epoch seconds) and `sleep` (seconds; paces deliveries).
    A config that does not validate at construction is replaced by the project's last good copy
    (`config.lastgood`; a watchdog restarted mid-run keeps working, with `config-invalid` logged);
    raises ConfigError when there is none. A valid one that changes the team's identity against
    the last good copy (`identity_changes`: its launcher restarted it mid-run on such an edit) is
    deferred the same way (`config-deferred`); otherwise it becomes the last good config.
    """

    def __init__(self, config_path: Path, *, runtime: Runtime | None = None, git: GitFactory | None = None,
                 ledger: LedgerFactory = default_ledger, session_status: StatusReader = claude_session_status,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] | None = None) -> None:
        self.config_path = Path(config_path)
        self.clock = clock
        self.sleep = sleep
        startup_error: ConfigError | None = None
        self.startup_note = ""  # the config_error this watchdog starts with ("" when the file is in force)
        try:
            self.config: Config = load_config(self.config_path)
        except ConfigError as exc:  # restarted mid-run on an edit that does not validate: the last good one
            found = _last_good(self.config_path)
            if found is None:
                raise
            self.config, startup_error = found, exc
            self.startup_note = "\n".join(exc.lines)
        else:
            found = _last_good(self.config_path)
            deferred = identity_changes(found, self.config, read_state(Path(found.defaults.log_dir))[0]) if found is not None else ""
            if found is not None and deferred:  # restarted mid-run on an identity edit: the running team's values stand
                self.config = found
                self.startup_note = f"deferred: {deferred}; the watchdog keeps the running values until `agents down` and `agents up`"
            else:
                self.config.remember()
        self.config_stamp: tuple[int, int] | None = self._stamp()
        self.injected_runtime = runtime is not None
        self.project = Project(self.config, runtime)
        self.observer = Observer(self.project.runtime, session_status=session_status, refresh=self._refresh_remote,
                                 **({"git": git} if git else {}))
        self.events = EventLog(self.log_dir)
        self.events.notify_with(lambda: self.config)  # [notify]: watchdog/notify.py, off without the table
        self.state: WatchdogState = read_state(self.log_dir)[0]
        if self.startup_note:
            self.state = replace(self.state, config_error=self.startup_note)
        if startup_error is not None:
            self.events.emit("", "config-invalid", f"agents.toml does not validate; started on the last good config: {startup_error.lines[0]}",
                             self.clock(), errors=startup_error.lines)
        elif self.startup_note:
            self.events.emit("", "config-deferred", f"{self.startup_note} (started on the last good config)", self.clock())
        self.stop_event = threading.Event()
        self.lock = ProjectLock(self.log_dir)
        self.ledger_factory = ledger
        self.ledger: Ledger | None = None
        self._saved = ""
        self._wake_error_said = False

    @property
    def log_dir(self) -> Path:
        """The project's log/state folder."""
        return Path(self.config.defaults.log_dir)

    @property
    def captures(self) -> int:
        """Pane captures done so far (for the benchmark)."""
        return self.observer.captures

    # -- config ----------------------------------------------------------------------------
    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.config_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> None:
        """Re-read the config when agents.toml changed (size or mtime); keep the last good one
        when the edit does not validate."""
        stamp = self._stamp()
        if stamp is not None and stamp == self.config_stamp:
            return
        self.config_stamp = stamp
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            text = "\n".join(exc.lines)
            if text != self.state.config_error:
                self.state = replace(self.state, config_error=text)
                self.events.emit("", "config-invalid", f"agents.toml does not validate; keeping the last good config: {exc.lines[0]}",
                                 self.clock(), errors=exc.lines)
            return
        deferred = identity_changes(self.config, config, self.state)
        if deferred:
            text = f"deferred: {deferred}; the watchdog keeps the running values until `agents down` and `agents up`"
            if text != self.state.config_error:
                self.state = replace(self.state, config_error=text)
                self.events.emit("", "config-deferred", text, self.clock())
            return
        config.remember()  # the last good config, for the verbs that must work while an edit does not validate
        if self.state.config_error:
            self.state = replace(self.state, config_error="")
            self.events.emit("", "config-valid", "agents.toml validates again", self.clock())
        if config.defaults.tmux_socket != self.config.defaults.tmux_socket and not self.injected_runtime:
            self.project = Project(config)
            self.observer.runtime = self.project.runtime
        else:
            self.project = Project(config, self.project.runtime)
            self.observer.runtime = self.project.runtime  # a first [[host]] wraps the runtime (runtime/hosts.py)
        self.config = config

    def _refresh_remote(self, config: Config) -> dict[str, str]:
        """Copy what remote agents wrote since the last tick (runtime/mirror.py; {} without any)."""
        return self.project.refresh()

    def _ledger(self) -> Ledger | None:
        if not self.config.watchdog.log_tokens:
            return None
        names = [a.name for a in self.config.agents]
        if self.ledger is None or self.ledger.agents != names or self.ledger.granularity != self.config.watchdog.token_granularity:
            self.ledger = self.ledger_factory(self.config)
            problem = getattr(self.ledger, "problem", "")
            if problem:  # its state file was unusable: set aside and rebuilt
                self.events.emit("", "state-corrupt", f"token ledger: {problem}", self.clock())
        return self.ledger

    # -- one tick --------------------------------------------------------------------------
    def save(self, state: WatchdogState) -> None:
        """Write the state atomically, unless it is what was written last."""
        text = to_json(state)
        if text != self._saved:
            write_atomic(state_path(self.log_dir), text)
            self._saved = text

    def tick(self) -> TickResult:
        """One full tick; returns what it saw, decided and did."""
        self.reload()
        now = self.clock()
        ledger = self._ledger()
        observation = self.observer.observe(self.config, self.state, now, ledger)
        observation = replace(observation, observed_at=self.clock())  # every witness read by now
        step = decide(self.config, self.state, observation, now)
        if step.actions:
            self.save(step.state)  # what was decided is on disk before any of it happens
        executor = Executor(self.project, self.events, ledger=ledger, sleep=self.sleep)
        outcomes = executor.apply(step.state, step.actions, observation)
        state = settle(self.config, step.state, outcomes, now)
        self.state = replace(state, last_tick=now, pid=os.getpid())
        self.save(self.state)
        for request in observation.requests:  # applied and saved: the files can go
            (requests_dir(self.log_dir) / request.id).unlink(missing_ok=True)
        return TickResult(observation, step.actions, tuple(outcomes), self.state)

    # -- the loop --------------------------------------------------------------------------
    def recover(self) -> None:
        """Read what the previous holder left (under the lock): the state file — a bad one set
        aside, a lost or bad one rebuilt from what is durable (`watchdog.rebuild`) — and remove
        the temp files a kill in the middle of a save leaves. What it did is in `recovered`
        ((event, reason) pairs, logged once the watchdog starts)."""
        self.recovered: list[tuple[str, str]] = []
        folder = state_path(self.log_dir).parent
        for leftover in (*folder.glob(".watchdog-*"), *folder.glob(".tokens-*")):
            leftover.unlink(missing_ok=True)
        existed = state_path(self.log_dir).exists()
        self.state, problem = read_state(self.log_dir, set_aside=True)
        if problem:
            self.recovered.append(("state-corrupt", problem))
        if problem or not existed:
            rebuilt, account = rebuild_state(self.config, self.log_dir)
            if account:
                self.state = rebuilt
                self.recovered.append(("state-rebuilt", f"state rebuilt: {account}"))
        if self.startup_note:
            self.state = replace(self.state, config_error=self.startup_note)
        self._saved = ""

    def run(self, once: bool = False, lock_wait: float = 0.0) -> None:
        """Hold the lock and tick until stopped (SIGTERM/SIGINT) — or once. `lock_wait`: seconds
        to wait for a holder that is going away (a killed watchdog's forked child). Raises LockHeld."""
        self.lock.acquire(wait=lock_wait)
        ensure_control_dirs(self.log_dir)  # explicit modes whatever the umask (a ledger or a hook may create them first)
        self.recover()
        wake = WakeChannel([self.log_dir / "hooks", requests_dir(self.log_dir), wake_dir(self.log_dir), self.project.spec_dir])
        if not once:
            wake.start()

        # A signal handler runs in the main thread between two bytecodes — possibly inside
        # Event.set/wait, holding that Event's lock — so it takes no lock (it used to poke the
        # wake channel: two signals in a row deadlocked a watchdog for good). It only sets flags,
        # and while the loop merely waits for its next tick it raises `_StopNow` to end the wait;
        # a tick in progress is never cut short, the loop stops after it.
        requested, idle = [False], [False]

        def stop(*_: object) -> None:
            if requested[0]:
                return
            requested[0] = True
            if idle[0]:
                idle[0] = False
                raise _StopNow

        def stopping() -> bool:
            return requested[0] or self.stop_event.is_set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.events.emit("", "watchdog-start", f"pid {os.getpid()}, config {self.config_path}", self.clock())
            for event, reason in self.recovered:
                self.events.emit("", event, reason, self.clock())
            try:
                while not stopping():
                    try:
                        self.tick()
                    except Exception as exc:  # noqa: BLE001 - a bad tick must not end supervision; it is logged loudly
                        self.events.emit("", "tick-error", f"{type(exc).__name__}: {exc}", self.clock())
                    if once or stopping():
                        break
                    if wake.error and not self._wake_error_said:
                        self._wake_error_said = True
                        self.events.emit("", "wake-degraded", f"ticking every {self.config.watchdog.signal_interval:g}s only: {wake.error}",
                                         self.clock())
                    try:
                        idle[0] = True
                        if not stopping():
                            wake.wait(self.config.watchdog.signal_interval)
                    finally:
                        idle[0] = False
            except _StopNow:
                pass  # a stop signal ended the wait between two ticks
            self.events.emit("", "watchdog-stop", "stopped cleanly", self.clock())
        finally:
            wake.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.lock.release()
