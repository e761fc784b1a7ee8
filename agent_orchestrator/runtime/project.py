"""Project operations behind the verbs: start, stop and report agents and services.

The CLI only parses and prints; everything it shows comes from here. Sessions are used or
created: `up` leaves a running session alone and restarts a dead one in place.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.agents import hooks
from agent_orchestrator.agents.kickoff import agent_kickoff, phase_model
from agent_orchestrator.agents.launch import Launch, build_launch
from agent_orchestrator.config.schema import AgentConfig, BackendConfig, Config, ServiceConfig
from agent_orchestrator.handoff.hook import install_post_receive, remove_post_receive
from agent_orchestrator.runtime.delivery import DeliveryResult, HookConfirmation, deliver
from agent_orchestrator.runtime.folders import ensure_control_dirs
from agent_orchestrator.runtime.homes import prepare_home, scratch_home
from agent_orchestrator.runtime.hosts import HostsRuntime, Place, hosts_of, local_place, uses_hosts
from agent_orchestrator.runtime.mirror import Mirror
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.owner import ForeignSession, OwnedRuntime, owned
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.runtime.tmux import TmuxRuntime

Unit = AgentConfig | ServiceConfig

SKIP_PERMISSIONS = "--dangerously-skip-permissions"


def needs_sandbox_env(backend: BackendConfig, argv: list[str], env: dict[str, str], euid: int | None) -> bool:
    """True when `IS_SANDBOX=1` must be added to a launch: as root (euid 0) Claude Code refuses
    `--dangerously-skip-permissions` unless IS_SANDBOX=1 is set. Only for a claude screen backend
    whose argv has that flag and whose configured env (backend + agent) does not set IS_SANDBOX
    (any value: the user's choice stands)."""
    return euid == 0 and backend.screen == "claude" and SKIP_PERMISSIONS in argv and "IS_SANDBOX" not in env


def sandbox_note(agents: Iterable[str]) -> str:
    """The one line `up` prints about the agents that got IS_SANDBOX=1 ("" for none)."""
    names = list(agents)
    if not names:
        return ""
    noun = "agent" if len(names) == 1 else "agents"
    return f"running as root: IS_SANDBOX=1 set for claude {noun} {', '.join(names)} (needed for {SKIP_PERMISSIONS})"


class UnknownNameError(ValueError):
    """A name on the command line that is neither an agent nor a service of the config."""


@dataclass(frozen=True)
class UnitStatus:
    """One row of `status`: an agent, a service or the watchdog.

    `state` is what its pane shows: running, stopped, dead, exited, disabled — or foreign (the
    session belongs to another project, `owner`). `exit_code` is set for dead panes. `enabled`
    is the config's say (a running agent set `enabled = false` is `running` and not enabled);
    `hold` is the watchdog's hold on it (needs-human, limited, paused; "" for none), shown
    beside the state, never instead of it.
    """

    name: str
    kind: str
    backend: str
    model: str
    watch: str
    session: str
    state: str
    exit_code: int | None = None
    pid: int | None = None
    command: str = ""
    enabled: bool = True
    hold: str = ""
    owner: str = ""
    host: str = ""

    def to_dict(self) -> dict[str, object]:
        """The row as JSON-ready facts."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Outcome:
    """What an operation did to one unit: `action` (started, restarted, running, stopped,
    absent, disabled, failed) and a human `detail`."""

    name: str
    session: str
    action: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        """True when the operation failed for this unit."""
        return self.action == "failed"


# The watchdog's own restart policy (runtime/launcher.py `_supervise`): a watchdog killed from
# outside (SIGKILL, the OOM killer) is back in half a second and rebuilds from its durable state
# (watchdog/rebuild.py); one that crashes backs off 1 s doubling to 30 s, and more than 5 crashes
# in 300 s end in a visible crash-loop (`status` shows it) rather than a silent spin.
WATCHDOG_SUPERVISION = {"kill_delay": 0.5, "backoff": 1.0, "max_backoff": 30.0, "burst": 5, "window": 300.0}


class Project:
    """A loaded config bound to its tmux server."""

    def __init__(self, config: Config, runtime: Runtime | None = None, *, euid: int | None = None) -> None:
        self.config = config
        base: Runtime = runtime or TmuxRuntime(config.defaults.tmux_socket, Path(config.defaults.log_dir) / "launch")
        # Agents on other machines ([[host]]): one runtime over all of them (runtime/hosts.py).
        inner: Runtime = base.inner if isinstance(base, OwnedRuntime) else base
        multi = hosts_of(inner)
        if multi is not None:
            multi.configure(config)
        elif uses_hosts(config):
            multi = HostsRuntime(inner, config)
            base = multi
        self.hosts: HostsRuntime | None = multi
        # Seen through the project's ownership (runtime/owner.py): other projects' sessions of the
        # same names are never adopted, stopped or typed into.
        self.runtime: OwnedRuntime = owned(base, str(config.path))
        self._mirror: Mirror | None = None
        self._euid = euid
        # Agents whose launches got IS_SANDBOX=1 added (running as root), in launch order.
        self.sandboxed: dict[str, None] = {}
        # Units (and "watchdog") the current/last `up` set out to start, in order: what an
        # interrupted `up` stops again (`rollback_up`).
        self.attempted: list[str] = []

    @property
    def euid(self) -> int:
        """The effective uid launches are made as (injected by tests, else os.geteuid())."""
        return os.geteuid() if self._euid is None else self._euid

    # -- paths -----------------------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        """The project's log/state folder (created on demand)."""
        return Path(self.config.defaults.log_dir)

    @property
    def spec_dir(self) -> Path:
        """Where launch specs of panes are written."""
        return self.log_dir / "launch"

    def place(self, unit: Unit) -> Place:
        """The machine `unit` runs on (runtime/hosts.py `Place`): this one unless it names a [[host]]."""
        if self.hosts is None:
            return local_place(self.log_dir)
        return self.hosts.place(unit, self.log_dir)

    @property
    def mirror(self) -> Mirror | None:
        """Local copies of remote agents' hook events, status files and transcripts
        (runtime/mirror.py); None when every agent runs here."""
        hosts = self.hosts
        if hosts is None:
            return None
        if self._mirror is None:
            self._mirror = Mirror(self.log_dir, lambda name: hosts.remotes[name].files if name in hosts.remotes else None)
        return self._mirror

    def refresh(self, agents: Iterable[str] | None = None, *, tokens: bool | None = None) -> dict[str, str]:
        """Bring the local copies of remote agents' files up to date (one ssh call per host;
        transcripts too with `tokens`, default `[watchdog].log_tokens`); the hosts that did not
        answer (host → reason). Nothing to do without remote agents."""
        mirror = self.mirror
        if mirror is None:
            return {}
        return mirror.refresh(self.config, pids=lambda a: self.runtime.agent_pid(a.session or ""), tokens=tokens, agents=agents,
                              skip=self.unreachable())  # a host that did not answer the observation is not asked again

    def attach_argv(self, unit: Unit) -> list[str]:
        """The argv that hands this terminal to the unit's session: `tmux attach-session -t
        =<session>` on the right server, or `ssh -t <host> tmux attach-session …` for a unit on a
        [[host]] (its tmux argv quoted for the remote shell)."""
        session = unit.session or ""
        if self.hosts is not None:
            return self.hosts.attach_argv(session)
        return [*self.runtime.base_argv(), "attach-session", "-t", f"={session}"]

    def unreachable(self) -> dict[str, str]:
        """Hosts that did not answer the last observation: host → reason ({} without hosts)."""
        return self.hosts.unreachable() if self.hosts is not None else {}

    # -- selection -------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        """Every agent, then every service, in config order."""
        return [*self.config.agents, *self.config.services]

    def select(self, names: Iterable[str] = ()) -> list[Unit]:
        """The units named (all when `names` is empty). Raises UnknownNameError for an unknown name."""
        names = list(names)
        if not names:
            return self.units()
        names = list(dict.fromkeys(names))
        by_name = {u.name: u for u in self.units()}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            raise UnknownNameError(f"unknown agent or service: {', '.join(unknown)} (known: {known})")
        return [by_name[n] for n in names]

    # -- status ----------------------------------------------------------------------------
    def status(self, panes: dict[str, PaneObservation] | None = None) -> list[UnitStatus]:
        """A row per unit from one bulk observation (starts nothing)."""
        panes = self.runtime.observe() if panes is None else panes
        return [self._row(u, panes.get(u.session or "")) for u in self.units()]

    def _host_down(self, unit: Unit) -> str:
        """The unit's host when that host did not answer the last observation, else ""."""
        host = self.config.host_of(unit)
        return host.name if host is not None and host.name in self.unreachable() else ""

    def _row(self, unit: Unit, pane: PaneObservation | None) -> UnitStatus:
        if isinstance(unit, AgentConfig):
            backend = self.config.backend_of(unit)
            kind, backend_name, model, watch = unit.kind, backend.name, unit.model or "", unit.watch or ""
            names = set(backend.process_name)
        else:
            kind, backend_name, model, watch = "service", "", "", unit.watch or ""
            names = {Path(unit.cmd[0]).name} if unit.cmd else set()
        state, code = self.pane_state(unit, pane, names)
        owner = self.runtime.foreign.get(unit.session or "", "") if pane is None else ""
        if pane is None and self._host_down(unit):
            state = "unreachable"  # not "stopped": nobody knows; the host did not answer
        host = self.config.host_of(unit)
        return UnitStatus(
            name=unit.name, kind=kind, backend=backend_name, model=model, watch=watch,
            session=unit.session or "", state="foreign" if owner else state, exit_code=code,
            pid=(self.runtime.agent_pid(unit.session or "") or pane.pid) if pane and not pane.dead else None,
            command=pane.current_command if pane else "", enabled=unit.enabled, owner=owner, host=host.name if host else "",
        )

    @staticmethod
    def pane_state(unit: Unit, pane: PaneObservation | None, process_names: set[str]) -> tuple[str, int | None]:
        """(state, exit code) of a unit given its pane."""
        if pane is None:
            return ("disabled" if not unit.enabled else "stopped"), None
        if pane.dead:
            return "dead", pane.dead_status
        if isinstance(unit, AgentConfig) and pane.exited_to_shell(process_names):
            return "exited", None
        return "running", None

    # -- lifecycle -------------------------------------------------------------------------
    def launch_of(self, unit: Unit, phase_index: int = 0, prompt: str | None = None, resume: bool | None = None) -> Launch:
        """The launch command of a unit (an agent with its kickoff — or `prompt` instead — or a
        service's cmd). `resume` overrides the agent's own `resume` setting. Running as root, a
        claude agent launched with --dangerously-skip-permissions gets IS_SANDBOX=1 unless its
        config sets IS_SANDBOX (`needs_sandbox_env`); its name is noted in `sandboxed`. A backend
        with hooks wired (`agents.hooks`) gets its hook recorder: Claude's settings layer or
        Codex's `-c hooks.*` (trust appended to its config.toml), and AO_HOOK/AO_HOOK_LOG in the env.
        Raises OSError when a file cannot be written.

        A unit on a [[host]] (`place`) is prepared there: "{python}" is the host's `python`, the
        prompt file, scratch HOME and hook settings are written in the host's log_dir, and the
        root check for IS_SANDBOX asks the host who it runs agents as."""
        place = self.place(unit)
        if isinstance(unit, ServiceConfig):
            argv = [place.python if part == "{python}" else part for part in unit.cmd]
            return Launch(argv=argv, cwd=Path(unit.dir or self.config.root), env=dict(unit.env))
        backend = self.config.backend_of(unit)
        kickoff = prompt if prompt is not None else agent_kickoff(self.config, unit, phase_index)
        prompt_file = None
        if backend.prompt_delivery == "exec" and any("{prompt_file}" in part for part in backend.exec_template):
            if place.remote:
                prompt_file = Path(str(place.log_dir / "prompts" / f"{unit.name}.md"))
                place.files.write_texts({str(prompt_file): kickoff or ""})
            else:
                prompt_file = self.log_dir / "prompts" / f"{unit.name}.md"
                prompt_file.parent.mkdir(parents=True, exist_ok=True)
                prompt_file.write_text(kickoff or "", encoding="utf-8")
        launch = build_launch(unit, backend, kickoff, prompt_file, model=phase_model(self.config, unit, phase_index),
                              resume=unit.resume if resume is None else resume, config_path=self.config.path)
        euid = self.remote_euid(place.host) if place.remote else self.euid
        if needs_sandbox_env(backend, launch.argv, launch.env, euid):
            launch.env["IS_SANDBOX"] = "1"
            self.sandboxed[unit.name] = None
        if backend.home == "scratch":
            home = place.log_dir / "homes" / unit.name if place.remote else scratch_home(self.log_dir, unit.name)
            launch.env.update(prepare_home(home, cli=backend.screen or backend.name, agent=unit.name, agent_dir=launch.cwd,
                                           env=launch.env, files=place.files if place.remote else None))
        if hooks.wired(backend.screen, backend.hooks) and backend.prompt_delivery != "exec":
            if place.remote:
                args, env = hooks.remote_hook_launch(backend.screen, place.log_dir, unit.name, launch.env, files=place.files,
                                                     script=place.hook_script)
            else:
                args, env = hooks.hook_launch(backend.screen, self.log_dir, unit.name, {**os.environ, **launch.env})
            launch.argv[1:1] = args  # right after the executable: before the flags, the model and the kickoff
            launch.env.update(env)
        return launch

    def remote_euid(self, host: str) -> int | None:
        """The uid agents run as on `host` (asked once per process; None when it cannot say)."""
        remote = self.hosts.remotes.get(host) if self.hosts is not None else None
        return remote.uid() if remote is not None else None

    def start(self, unit: Unit, pane: PaneObservation | None, phase_index: int = 0, *,
              prompt: str | None = None, resume: bool | None = None, sleep: Callable[[float], None] | None = None) -> Outcome:
        """Start (no session) or restart in place (whatever the pane runs is replaced) one unit.

        `prompt` replaces the agent's kickoff for this run (wakes of task agents); `resume`
        overrides the agent's `resume` setting; `sleep` paces the wait for a pasted kickoff.
        Failures are returned as a failed Outcome.
        """
        session = unit.session or ""
        try:
            launch = self.launch_of(unit, phase_index, prompt, resume)
            if pane is None:
                self.runtime.start(
                    session, launch.argv, cwd=launch.cwd, env=launch.env,
                    width=self.config.defaults.width, height=self.config.defaults.height,
                    spec_dir=self.spec_dir,
                )
                action = "started"
            else:
                self.runtime.restart(session, launch.argv, cwd=launch.cwd, env=launch.env, spec_dir=self.spec_dir)
                action = "restarted"
        except (TmuxError, OSError, ValueError) as exc:
            return Outcome(unit.name, session, "failed", str(exc))
        except (KeyError, IndexError) as exc:  # a kickoff template edited since it was validated
            return Outcome(unit.name, session, "failed", f"kickoff template: unknown slot {exc}")
        if launch.paste_prompt and isinstance(unit, AgentConfig):
            result = self.deliver_when_ready(unit, launch.paste_prompt, sleep=sleep or time.sleep)
            if not result.ok:
                return Outcome(unit.name, session, "failed", f"started, but the kickoff was not delivered: {result.reason}")
        return Outcome(unit.name, session, action, " ".join(launch.argv[:1]))

    def up(self, names: Iterable[str] = (), progress: Callable[[str], None] | None = None, *, watchdog: bool = True) -> list[Outcome]:
        """Use-or-create: start every enabled selected unit that is not running (task agents
        only when named), then (with `watchdog`) the watchdog if it is not running."""
        names = list(names)
        ensure_control_dirs(self.log_dir)  # explicit modes, whatever the umask (runtime/folders.py)
        self.attempted = []
        panes = self.runtime.observe()
        outcomes = []
        # Services first: agents may need one (e.g. a model server) from their first second.
        for unit in sorted(self.select(names), key=lambda u: not isinstance(u, ServiceConfig)):
            pane = panes.get(unit.session or "")
            if not unit.enabled:
                still = f" (still running: `agents down {unit.name}` stops it)" if pane is not None and not pane.dead else ""
                outcomes.append(Outcome(unit.name, unit.session or "", "disabled", "enabled = false" + still))
                continue
            if isinstance(unit, AgentConfig) and unit.kind == "task" and not names:
                outcomes.append(Outcome(unit.name, unit.session or "", "waiting", "task: started by its wake, on_complete or `up NAME`"))
                continue
            status = self._row(unit, pane)
            if status.state == "running":
                outcomes.append(Outcome(unit.name, unit.session or "", "running", "left alone"))
                continue
            if status.state == "unreachable":  # it may well be running there: never start a second one blind
                reason = self.unreachable().get(status.host, "")
                outcomes.append(Outcome(unit.name, unit.session or "", "failed", f"host {status.host} does not answer ({reason})"))
                continue
            if progress:
                progress(f"starting {unit.name} in session {unit.session}")
            if status.state != "foreign":  # another project's: start refuses it, and a rollback must not touch it
                self.attempted.append(unit.name)
            outcome = self.start(unit, pane)
            if isinstance(unit, ServiceConfig) and unit.ready_re and not outcome.failed:
                if progress:
                    progress(f"waiting for {unit.name} to be ready")
                if not self.wait_screen(unit.session or "", unit.ready_re, unit.ready_timeout):
                    outcome = Outcome(unit.name, unit.session or "", "failed", f"not ready within {unit.ready_timeout:g}s (ready_re {unit.ready_re!r})")
            outcomes.append(outcome)
        hook = install_post_receive(self.config)
        if hook.action != "skipped":  # a hook it could not write is a note, not a failed `up`: the watchdog polls
            outcomes.append(Outcome("post-receive", "", "refused" if hook.action == "failed" else hook.action, hook.detail))
        if watchdog:
            pane = panes.get(self.config.watchdog_session)
            if (pane is None or pane.dead) and self.config.watchdog_session not in self.runtime.foreign:
                self.attempted.append("watchdog")
            outcomes.append(self.start_watchdog(pane))
        return outcomes

    def rollback_up(self) -> list[Outcome]:
        """Stop what the last `up` set out to start (`attempted`: sessions it created or
        restarted in place, the watchdog included) — for an `up` interrupted half-way, so no
        half-started team is left without its watchdog. Returns a `down`-like outcome per unit."""
        outcomes = []
        for name in reversed(self.attempted):
            session = self.config.watchdog_session if name == "watchdog" else (self.select([name])[0].session or "")
            try:
                killed = self.runtime.kill(session)
            except TmuxError as exc:
                outcomes.append(Outcome(name, session, "failed", str(exc)))
                continue
            outcomes.append(Outcome(name, session, "stopped" if killed else "absent"))
        self.attempted = []
        return outcomes

    def start_watchdog(self, pane: PaneObservation | None) -> Outcome:
        """Run `agents watchdog` in its own session (`<prefix>watchdog`) unless it runs already."""
        session = self.config.watchdog_session
        if pane is not None and not pane.dead:
            return Outcome("watchdog", session, "running", "left alone")
        argv = [sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(self.config.path), "--lock-wait", "5"]
        try:
            if pane is None:
                self.runtime.start(session, argv, cwd=self.config.root, width=self.config.defaults.width,
                                   height=self.config.defaults.height, spec_dir=self.spec_dir, supervise=WATCHDOG_SUPERVISION)
            else:
                self.runtime.restart(session, argv, cwd=self.config.root, env=None, spec_dir=self.spec_dir, supervise=WATCHDOG_SUPERVISION)
        except (TmuxError, OSError) as exc:
            return Outcome("watchdog", session, "failed", str(exc))
        return Outcome("watchdog", session, "started" if pane is None else "restarted", "agents watchdog")

    def watchdog_status(self, panes: dict[str, PaneObservation]) -> UnitStatus:
        """The watchdog's row of `status`."""
        pane = panes.get(self.config.watchdog_session)
        owner = self.runtime.foreign.get(self.config.watchdog_session, "") if pane is None else ""
        if owner:
            state, code = "foreign", None
        elif pane is None:
            state, code = "stopped", None
        elif pane.dead:
            state, code = "dead", pane.dead_status
        else:
            state, code = "running", None
        return UnitStatus(name="watchdog", kind="watchdog", backend="", model="", watch="", session=self.config.watchdog_session,
                          state=state, exit_code=code, pid=pane.pid if pane and not pane.dead else None,
                          command=pane.current_command if pane else "", owner=owner)

    def down(self, names: Iterable[str] = ()) -> list[Outcome]:
        """Kill the sessions of the selected units — and, when none are named, the watchdog's
        first so it does not heal what is being stopped (idempotent). A session of another project
        (runtime/owner.py) is left running: `skipped`, its detail naming the owner."""
        names = list(names)
        units = self.select(names)
        self.runtime.observe()  # whose session is whose, in one call
        targets = [("watchdog", self.config.watchdog_session)] if not names else []
        targets += [(unit.name, unit.session or "") for unit in units]
        outcomes = []
        for name, session in targets:
            try:
                killed = self.runtime.kill(session)
            except ForeignSession as exc:
                outcomes.append(Outcome(name, session, "skipped", f"belongs to another project: {exc.owner}"))
                continue
            except TmuxError as exc:  # a host that does not answer: its sessions are left as they are
                outcomes.append(Outcome(name, session, "failed", str(exc)))
                continue
            outcomes.append(Outcome(name, session, "stopped" if killed else "absent"))
        if not names:  # the whole project is down: a push need not wake anyone
            hook = remove_post_receive(self.config)
            if hook.action in ("removed", "failed"):
                outcomes.append(Outcome("post-receive", "", "refused" if hook.action == "failed" else hook.action, hook.detail))
            if self.hosts is not None:
                self.hosts.close()  # no ssh master connection outlives the team
        return outcomes

    # -- input -----------------------------------------------------------------------------
    def send(self, name: str, text: str) -> DeliveryResult:
        """Deliver `text` to agent `name` with verified paste delivery."""
        unit = self.select([name])[0]
        if not isinstance(unit, AgentConfig):
            return DeliveryResult(False, 0, f"{name} is a service; only agents take messages")
        owner = self.runtime.owner_of(unit.session or "")
        if owner is not None:
            return DeliveryResult(False, 0, str(ForeignSession(unit.session or "", owner)))
        backend = self.config.backend_of(unit)
        result = deliver(self.runtime, unit.session or "", text, backend, attempts=self.config.watchdog.delivery_attempts,
                         confirm=self.confirmation(unit, text))
        host = self._host_down(unit)
        if not result.ok and host:  # not "not running": nobody knows, the host did not answer
            return DeliveryResult(False, result.attempts, f"host {host} does not answer ({self.unreachable().get(host, '')})")
        return result

    def confirmation(self, agent: AgentConfig, text: str, *, sleep: Callable[[float], None] = time.sleep) -> HookConfirmation | None:
        """A watch for the CLI's UserPromptSubmit of `text`, when the agent's hooks are wired and
        its hook file shows they fire (an agent started before hooks were wired never sends one:
        the screen confirms its deliveries instead). None otherwise."""
        backend = self.config.backend_of(agent)
        if not hooks.wired(backend.screen, backend.hooks):
            return None
        path = hooks.hook_log(self.log_dir, agent.name)
        refresh = self.hook_refresh(agent)
        if refresh is not None:
            refresh()
        try:
            if path.stat().st_size == 0:
                return None
        except OSError:
            return None
        return HookConfirmation(path, text, sleep=sleep, refresh=refresh)

    def hook_refresh(self, agent: AgentConfig) -> Callable[[], None] | None:
        """For an agent on a [[host]]: a function that brings the local copy of its hook events up
        to date (runtime/mirror.py), for a delivery waiting on UserPromptSubmit; None otherwise."""
        if self.config.host_of(agent) is None:
            return None

        def refresh() -> None:
            self.refresh([agent.name], tokens=False)

        return refresh

    def deliver_when_ready(self, agent: AgentConfig, text: str, *, sleep: Callable[[float], None] = time.sleep,
                           clock: Callable[[], float] = time.monotonic) -> DeliveryResult:
        """Wait for the CLI to be ready (answering startup dialogs on the way), then deliver `text`.

        Ready = `ready_re` on screen, or `startup_timeout` seconds passed (monotonic).
        """
        from agent_orchestrator.runtime.startup import wait_ready

        backend = self.config.backend_of(agent)
        session = agent.session or ""
        wait_ready(self.runtime, session, backend, sleep=sleep, clock=clock)
        return deliver(self.runtime, session, text, backend, attempts=self.config.watchdog.delivery_attempts, sleep=sleep,
                       confirm=self.confirmation(agent, text, sleep=sleep))

    def wait_screen(self, session: str, pattern: str, timeout: float, *, sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> bool:
        """Poll the session's screen until `pattern` shows (True) or `timeout` seconds pass."""
        import re

        deadline = clock() + timeout
        while True:
            try:
                if re.search(pattern, "\n".join(self.runtime.capture_history(session, 200)), re.MULTILINE):
                    return True
            except TmuxError:
                return False
            if clock() >= deadline:
                return False
            sleep(0.2)

    def logs(self, name: str, lines: int) -> list[str]:
        """The last `lines` rows of a unit's pane (scrollback included). Raises TmuxError if not running."""
        unit = self.select([name])[0]
        return self.runtime.capture_history(unit.session or "", lines)
