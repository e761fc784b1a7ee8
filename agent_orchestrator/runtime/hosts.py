"""One `Runtime` over several machines: this one's tmux and each `[[host]]`'s, picked per session.

`HostsRuntime` is what a project with remote agents runs on: it implements the `Runtime`
protocol (runtime/protocol.py), so the watchdog, delivery and the verbs do not know there is more
than one machine. Each session goes to the machine its agent or service names (`host =`); every
other session (the watchdog's, those of units on this machine) stays local.

`observe` asks every machine at once (one thread per remote host; each host answers with one
ssh call, runtime/remote.py) and merges the panes; `capture_many` splits the sessions by machine
and captures each group in one call, concurrently. A host that does not answer within its
`timeout` is left out of the merge and named in `unreachable()` (host → reason) until it answers
again (probed meanwhile with a shorter timeout, `PROBE_TIMEOUT`, so a silent host does not slow
every tick down to its timeout): its sessions are neither "gone" nor "dead" — the watchdog leaves them alone
(watchdog/observe.py) and `status` says `unreachable`. Local agents carry on meanwhile.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, TypeVar

from agent_orchestrator.agents import hooks
from agent_orchestrator.config.schema import AgentConfig, Config, HostConfig, ServiceConfig
from agent_orchestrator.runtime.files import Files, LocalFiles, RemoteFiles
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.runtime.remote import RemoteTmuxRuntime
from agent_orchestrator.runtime.ssh import HostUnreachable, SshTransport

T = TypeVar("T")

# Seconds a host that is already unreachable gets to answer a tick's observation: enough for a
# host that is back (a new connection on a loaded machine), short enough that a host gone
# silent (no refusal, just nothing) costs every tick this, not its whole `timeout`.
PROBE_TIMEOUT = 3.0


def uses_hosts(config: Config) -> bool:
    """True when an agent or service of `config` runs on a `[[host]]`."""
    return any(config.host_of(u) is not None for u in units_of(config))


def units_of(config: Config) -> list[AgentConfig | ServiceConfig]:
    """Every agent, then every service."""
    return [*config.agents, *config.services]


@dataclass(frozen=True)
class Place:
    """The machine a unit runs on, as a launch needs it: `host` ("" = this machine), its
    `log_dir` there (launch specs, hook events, scratch HOMEs, prompt files), `files` to write
    them, the `python` that runs its service commands' "{python}", and the hook recorder's path."""

    host: str
    log_dir: PurePath
    files: Files
    python: str
    hook_script: str

    @property
    def remote(self) -> bool:
        """True for a `[[host]]`."""
        return bool(self.host)


def local_place(log_dir: Path) -> Place:
    """This machine: the project's log_dir, its files, the orchestrator's own Python."""
    return Place("", Path(log_dir), LocalFiles(), sys.executable, str(hooks.SCRIPT))


class HostsRuntime:
    """The local runtime plus one `RemoteTmuxRuntime` per `[[host]]` in use (see the module doc).

    `configure(config)` (re)binds it to a config: sessions are routed by the units' `host`, a host
    whose settings did not change keeps its runtime (and its ssh master connection).
    """

    def __init__(self, local: Runtime, config: Config) -> None:
        self.local = local
        self.remotes: dict[str, RemoteTmuxRuntime] = {}
        self.routes: dict[str, str] = {}
        self._unreachable: dict[str, str] = {}
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Route sessions per `config` (units on a `[[host]]` go there)."""
        control_dir = Path(config.defaults.log_dir) / "ssh"
        used: dict[str, HostConfig] = {}
        routes: dict[str, str] = {}
        for unit in units_of(config):
            host = config.host_of(unit)
            if host is not None and unit.session:
                used[host.name] = host
                routes[unit.session] = host.name
        remotes = {}
        for name, host in used.items():
            known = self.remotes.get(name)
            if known is not None and known.host == host and known.transport.control.parent == control_dir:
                remotes[name] = known
            else:
                transport = SshTransport(host, control_dir)
                remotes[name] = RemoteTmuxRuntime(host, transport, RemoteFiles(transport, host.python))
        self.remotes, self.routes = remotes, routes
        self._unreachable = {h: r for h, r in self._unreachable.items() if h in remotes}

    # -- where things are ------------------------------------------------------------------
    def host_of(self, session: str) -> str:
        """The host a session runs on ("" = this machine)."""
        return self.routes.get(session, "")

    def place(self, unit: AgentConfig | ServiceConfig, local_log_dir: Path) -> Place:
        """Where `unit` runs (see `Place`)."""
        remote = self.remotes.get(self.routes.get(unit.session or "", ""))
        if remote is None:
            return local_place(local_log_dir)
        return Place(remote.host.name, PurePosixPath(remote.host.log_dir), remote.files, remote.host.python, str(remote.hook_script))

    def _for(self, session: str) -> Runtime:
        name = self.routes.get(session)
        if name is None:
            return self.local
        remote = self.remotes[name]
        return remote

    def unreachable(self) -> dict[str, str]:
        """Hosts that did not answer the last observation (or a later call): host → reason."""
        return dict(self._unreachable)

    def _call(self, host: str, fn: Callable[[], T]) -> T:
        """`fn()` for a remote host, noting whether it answered."""
        try:
            value = fn()
        except HostUnreachable as exc:
            self._unreachable[host] = exc.reason
            raise
        self._unreachable.pop(host, None)
        return value

    # -- the protocol ----------------------------------------------------------------------
    @property
    def socket(self) -> str | None:
        """The local tmux server's socket (the watchdog's session lives there)."""
        return self.local.socket

    @socket.setter
    def socket(self, value: str | None) -> None:
        self.local.socket = value

    @property
    def calls(self) -> int:
        """tmux invocations here plus ssh calls to the hosts, so far."""
        return self.local.calls + sum(r.calls for r in self.remotes.values())

    @calls.setter
    def calls(self, value: int) -> None:
        self.local.calls = value
        for remote in self.remotes.values():
            remote.calls = 0

    def observe(self) -> dict[str, PaneObservation]:
        """Every machine's panes at once; a host that does not answer is left out and noted in
        `unreachable()`. Only the sessions routed to a host are taken from it."""
        for name, remote in self.remotes.items():
            remote.observe_timeout = min(PROBE_TIMEOUT, remote.transport.timeout) if name in self._unreachable else None
        jobs: dict[str, Callable[[], dict[str, PaneObservation]]] = {name: remote.observe for name, remote in self.remotes.items()}
        found, failed = _concurrently(jobs, self.local.observe)
        panes = {s: p for s, p in found.pop("", {}).items() if s not in self.routes}
        for name, remote_panes in found.items():
            panes.update({s: p for s, p in remote_panes.items() if self.routes.get(s) == name})
        self._unreachable = failed
        return panes

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        """The session's screen from its machine. Raises TmuxError (HostUnreachable)."""
        host = self.host_of(session)
        if not host:
            return self.local.capture(session, lines)
        return self._call(host, lambda: self.remotes[host].capture(session, lines))

    def capture_many(self, sessions: Iterable[str]) -> dict[str, list[str]]:
        """Screens of several sessions: one batch per machine, machines at once; the sessions of
        a host that does not answer are left out (and the host noted as unreachable)."""
        groups: dict[str, list[str]] = {}
        for session in dict.fromkeys(sessions):
            groups.setdefault(self.host_of(session), []).append(session)
        mine = groups.pop("", [])
        jobs: dict[str, Callable[[], dict[str, list[str]]]] = {
            host: functools.partial(self.remotes[host].capture_many, tuple(group)) for host, group in groups.items()}
        found, failed = _concurrently(jobs, (lambda: self.local.capture_many(mine)) if mine else dict)
        self._unreachable.update(failed)
        for host in found:
            self._unreachable.pop(host, None)
        screens: dict[str, list[str]] = {}
        for part in found.values():
            screens.update(part)
        return screens

    def capture_history(self, session: str, lines: int) -> list[str]:
        """The session's recent rows from its machine. Raises TmuxError."""
        host = self.host_of(session)
        if not host:
            return self.local.capture_history(session, lines)
        return self._call(host, lambda: self.remotes[host].capture_history(session, lines))

    def has_session(self, session: str) -> bool:
        """True when the session exists on its machine. Raises HostUnreachable for a silent host."""
        host = self.host_of(session)
        if not host:
            return self.local.has_session(session)
        return self._call(host, lambda: self.remotes[host].has_session(session))

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, width: int = 200,
              height: int = 50, spec_dir: Path, owner: str | None = None, supervise: dict[str, float] | None = None) -> None:
        """Create the session on its machine (see `Runtime.start`). Raises TmuxError."""
        runtime = self._for(session)
        host = self.host_of(session)

        def go() -> None:
            runtime.start(session, argv, cwd=cwd, env=env, width=width, height=height, spec_dir=spec_dir, owner=owner, supervise=supervise)

        self._call(host, go) if host else go()

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path,
                supervise: dict[str, float] | None = None) -> None:
        """Run `argv` afresh in the session's pane on its machine. Raises TmuxError."""
        runtime = self._for(session)
        host = self.host_of(session)

        def go() -> None:
            runtime.restart(session, argv, cwd=cwd, env=env, spec_dir=spec_dir, supervise=supervise)

        self._call(host, go) if host else go()

    def kill(self, session: str) -> bool:
        """Kill the session on its machine; True when one was killed. Raises HostUnreachable."""
        host = self.host_of(session)
        if not host:
            return self.local.kill(session)
        return self._call(host, lambda: self.remotes[host].kill(session))

    def paste(self, session: str, text: str) -> None:
        """Bracketed-paste into the session's pane on its machine. Raises TmuxError."""
        host = self.host_of(session)
        if not host:
            self.local.paste(session, text)
            return
        self._call(host, lambda: self.remotes[host].paste(session, text))

    def send_key(self, session: str, *keys: str) -> None:
        """Send tmux key names to the session's pane on its machine. Raises TmuxError."""
        host = self.host_of(session)
        if not host:
            self.local.send_key(session, *keys)
            return
        self._call(host, lambda: self.remotes[host].send_key(session, *keys))

    def base_argv(self) -> list[str]:
        """The local `tmux` argv (see `attach_argv` for a session on a host)."""
        return self.local.base_argv()

    def attach_argv(self, session: str) -> list[str]:
        """The argv that hands this terminal to the session: `tmux attach-session` here, or
        `ssh -t <host> tmux attach-session` for a session on a host."""
        host = self.host_of(session)
        if host:
            return self.remotes[host].attach_argv(session)
        return [*self.local.base_argv(), "attach-session", "-t", f"={session}"]

    def agent_pid(self, session: str) -> int | None:
        """Pid (on its machine) of the agent in the session's current run, or None."""
        return self._for(session).agent_pid(session)

    def exit_record(self, session: str) -> dict[str, Any] | None:
        """The launcher's record of the session's last run on its machine, or None."""
        return self._for(session).exit_record(session)

    def close(self) -> None:
        """Close every host's ssh master connection (`down` of the whole project)."""
        for remote in self.remotes.values():
            remote.transport.close()


def _concurrently(jobs: dict[str, Callable[[], T]], local: Callable[[], T]) -> tuple[dict[str, T], dict[str, str]]:
    """Run each host's job in its own thread and `local` in this one; (results by host, "" for
    local; reasons by host that did not answer). Other TmuxErrors count as no answer too."""
    found: dict[str, T] = {}
    failed: dict[str, str] = {}
    if not jobs:
        found[""] = local()
        return found, failed
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="ao-host") as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        found[""] = local()
        for name, future in futures.items():
            try:
                found[name] = future.result()
            except HostUnreachable as exc:
                failed[name] = exc.reason
            except (TmuxError, OSError) as exc:
                failed[name] = str(exc)
    return found, failed


def hosts_of(runtime: Any) -> HostsRuntime | None:
    """The `HostsRuntime` under a project's runtime (through its ownership wrapper), or None."""
    inner = getattr(runtime, "inner", runtime)
    return inner if isinstance(inner, HostsRuntime) else None
