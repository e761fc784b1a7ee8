"""Local copies of what remote agents write: hook events, Claude's session status, transcripts.

The watchdog's readers — hook events (watchdog/observe.py, delivery confirmations), Claude's
`sessions/<pid>.json`, the token ledger and `agent-log` (transcripts/) — read files. For an agent
on a `[[host]]` those files are on that machine, so each tick `Mirror.refresh` brings what they
gained since the last tick into local copies, over the host's master connection, in ONE ssh call
per host (hosts at once): the local copy's size is the offset (kept here, never on the host), the
host sends only the complete lines past it (runtime/remote_helper.py `sync`). The readers then
read the copies exactly as they read a local agent's files, incrementally.

Where the copies are: an agent's hook log at its usual local place, `<log_dir>/hooks/<agent>.jsonl`;
everything else under `<log_dir>/hosts/<host>/`, `root/<absolute path>` or `home/<path under the
remote user's HOME>` (`mirror_path`). A copy keeps the host's modification time, so the token
ledger still tells an earlier run's transcript from this run's. A file replaced or truncated on the
host is copied again from its start (its readers see it rewritten and start over).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agent_orchestrator.agents import hooks
from agent_orchestrator.config.schema import AgentConfig, Config, HostConfig
from agent_orchestrator.runtime.files import Chunk, RemoteFiles
from agent_orchestrator.runtime.ssh import HostUnreachable


def mirror_root(log_dir: Path, host: str) -> Path:
    """`<log_dir>/hosts/<host>`: where copies of that host's files live."""
    return Path(log_dir) / "hosts" / host


def mirror_path(log_dir: Path, host: str, remote: str) -> Path:
    """The local copy of `remote` (a path on `host`; `~` or `~/…` = its user's HOME).

    >>> str(mirror_path(Path("/run"), "b", "/srv/logs/x.jsonl"))
    '/run/hosts/b/root/srv/logs/x.jsonl'
    >>> str(mirror_path(Path("/run"), "b", "~/.claude"))
    '/run/hosts/b/home/.claude'
    """
    root = mirror_root(log_dir, host)
    if remote == "~" or remote.startswith("~/"):
        return root / "home" / remote[2:]
    return root / "root" / str(PurePosixPath("/", remote)).lstrip("/")


def remote_path(log_dir: Path, host: str, local: Path) -> str | None:
    """The path on `host` whose copy is `local` (inverse of `mirror_path`), or None.

    >>> remote_path(Path("/run"), "b", Path("/run/hosts/b/home/.codex/sessions"))
    '~/.codex/sessions'
    """
    root = mirror_root(log_dir, host)
    try:
        rel = Path(local).relative_to(root)
    except ValueError:
        return None
    if not rel.parts:
        return None
    rest = "/".join(rel.parts[1:])
    if rel.parts[0] == "home":
        return "~/" + rest if rest else "~"
    if rel.parts[0] == "root":
        return "/" + rest
    return None


@dataclass
class _Wanted:
    """One host's sync request and where each answer goes locally."""

    reads: dict[str, Path] = field(default_factory=dict)  # remote → local copy, read incrementally
    globs: list[dict[str, Any]] = field(default_factory=list)
    whole: dict[str, tuple[Path, int]] = field(default_factory=dict)  # remote → (local copy, pid)
    offsets: dict[str, int] = field(default_factory=dict)


class Mirror:
    """Keeps the local copies of one project's remote agents' files (see the module doc).

    `files_of(host)` gives the host's `RemoteFiles` (None for a host no longer configured);
    `log_dir` is the project's local log_dir. `calls` counts sync calls (benchmarks).
    """

    def __init__(self, log_dir: Path, files_of: Callable[[str], RemoteFiles | None]) -> None:
        self.log_dir = Path(log_dir)
        self.files_of = files_of
        self.calls = 0
        self._judged: dict[str, dict[str, bool]] = {}  # host -> rollout path -> belongs to an agent of ours

    def refresh(self, config: Config, *, pids: Callable[[AgentConfig], int | None] = lambda _: None,
                tokens: bool | None = None, agents: Iterable[str] | None = None, skip: Iterable[str] = ()) -> dict[str, str]:
        """Bring the copies up to date: hook logs of agents with hooks wired, Claude's status
        file of each live claude agent (`pids(agent)`: its pid on the host), and — with `tokens`
        (default: `[watchdog].log_tokens`) — every transcript. Only the agents named in `agents`
        when given; none on the hosts in `skip` (known not to answer). Returns the hosts that
        did not answer (host → reason); never raises."""
        tokens = config.watchdog.log_tokens if tokens is None else tokens
        names = set(agents) if agents is not None else None
        skipped = set(skip)
        wanted: dict[str, _Wanted] = {}
        for agent in config.agents:
            where = config.host_of(agent)
            if where is None or where.name in skipped or (names is not None and agent.name not in names):
                continue
            self._want(config, agent, where, wanted.setdefault(where.name, _Wanted()), pids(agent), tokens)
        jobs = {name: want for name, want in wanted.items() if want.reads or want.globs or want.whole}
        if not jobs:
            return {}
        failed: dict[str, str] = {}
        if len(jobs) == 1:
            name, want = next(iter(jobs.items()))
            error = self._sync(name, want)
            return {name: error} if error else {}
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="ao-mirror") as pool:
            futures = {name: pool.submit(self._sync, name, want) for name, want in jobs.items()}
            for name, future in futures.items():
                error = future.result()
                if error:
                    failed[name] = error
        return failed

    def _want(self, config: Config, agent: AgentConfig, host_config: HostConfig, want: _Wanted, pid: int | None, tokens: bool) -> None:
        from agent_orchestrator.transcripts.discovery import agent_home, agent_source, remote_home

        backend = config.backend_of(agent)
        host = host_config.name
        host_log = PurePosixPath(host_config.log_dir)
        if hooks.wired(backend.screen, backend.hooks):
            local = hooks.hook_log(self.log_dir, agent.name)
            hook_file = str(host_log / "hooks" / f"{agent.name}.jsonl")
            want.reads[hook_file] = local
            want.offsets[hook_file] = _size(local)
        if backend.screen == "claude" and pid is not None:
            status_file = f"{remote_home(config, agent).rstrip('/')}/.claude/sessions/{pid}.json"
            want.whole[status_file] = (agent_home(config, agent) / ".claude" / "sessions" / f"{pid}.json", pid)
        if not tokens or backend.transcripts.reader not in ("claude", "codex"):
            return
        try:
            source = agent_source(config, agent)
        except ValueError:
            return
        judged = self._judged.setdefault(host, {})
        for folder in source.folders:
            remote_dir = remote_path(self.log_dir, host, folder.path)
            if remote_dir is None:
                continue
            want.globs.append({"dir": remote_dir, "pattern": folder.pattern, "recursive": folder.recursive,
                               "cwd_in": list(folder.cwd_in) if folder.cwd_in is not None else None})
            if folder.path.is_dir():
                found = folder.path.rglob(folder.pattern) if folder.recursive else folder.path.glob(folder.pattern)
                for local in found:
                    remote = remote_path(self.log_dir, host, local)
                    if remote is not None and local.is_file():
                        want.offsets[remote] = _size(local)
                        judged.setdefault(remote, True)

    def _sync(self, host: str, want: _Wanted) -> str:
        """One host's sync; "" or why the host did not answer."""
        files = self.files_of(host)
        if files is None:
            return ""
        judged = self._judged.setdefault(host, {})
        self.calls += 1
        try:
            result = files.sync(offsets=want.offsets, reads=list(want.reads), globs=want.globs, known=judged,
                                whole=[{"path": p, "pid": pid} for p, (_, pid) in want.whole.items()])
        except HostUnreachable as exc:
            return exc.reason
        except OSError as exc:
            return str(exc)
        judged.update(dict.fromkeys(result.rejected, False))
        for chunk in result.chunks:
            if chunk.whole:
                local, _ = want.whole[chunk.path]
                _replace(local, chunk.data)
                continue
            local = want.reads.get(chunk.path) or mirror_path(self.log_dir, host, chunk.path)
            judged[chunk.path] = True
            _apply(local, chunk)
        for path in result.missing:
            if path in want.whole:
                want.whole[path][0].unlink(missing_ok=True)  # the process ended: no status to trust
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _apply(local: Path, chunk: Chunk) -> None:
    """Append a chunk to its copy — or start the copy over when the host's file did (start 0
    while the copy has more), or drop a copy that no longer lines up (read again next time)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    size = _size(local)
    if chunk.start == size:
        if chunk.data or not local.exists():
            with local.open("ab") as fh:
                fh.write(chunk.data)
    elif chunk.start == 0:
        with local.open("r+b" if local.exists() else "wb") as fh:  # in place: readers see it shrink or change
            fh.truncate(0)
            fh.write(chunk.data)
    else:
        with local.open("r+b") as fh:
            fh.truncate(0)
        return
    if chunk.mtime:
        os.utime(local, (chunk.mtime, chunk.mtime))
