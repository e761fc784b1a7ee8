"""Where an agent's transcripts are (Claude Code 2.1.197, Codex CLI 0.169.0).

The agent HOME is the ``HOME`` of the agent's env, else its backend's env, else the current one.
Claude: ``<HOME>/.claude/projects/<claude_slug(dir)>/*.jsonl`` (``CLAUDE_CONFIG_DIR`` replaces
``<HOME>/.claude``); Codex: ``rollout-*.jsonl`` under ``<CODEX_HOME or HOME/.codex>/sessions``
whose ``session_meta`` cwd is the agent's dir. A backend ``transcripts.path`` other than the
preset's replaces that base folder (``~`` = the agent HOME). Used by `agent-log` and the token
ledger.

An agent on a ``[[host]]`` writes its transcripts on that machine: its folders here are the local
copies `runtime.mirror` keeps (``<log_dir>/hosts/<host>/…``), and its HOME is the remote one
(`remote_home`: its scratch HOME there, the HOME its env sets, else the remote user's ``~``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent_orchestrator.config import AgentConfig, Config
from agent_orchestrator.config.presets import PRESETS
from agent_orchestrator.runtime.homes import scratch_home
from agent_orchestrator.transcripts.records import codex_session_meta

_SLUG_MAX = 200


def claude_slug(cwd: Path | str) -> str:
    """Claude Code's project folder name for a working directory.

    Every character outside ``[A-Za-z0-9]`` (so ``/``, ``.``, ``_``, spaces, …; counted per
    UTF-16 unit, as JavaScript does) becomes ``-``. Past 200 characters Claude keeps the first
    200 and appends ``-`` + base-36 of ``abs(int32 hash)`` of the original path. Read from the
    Claude Code 2.1.197 binary (its ``sanitizePath``). Pass the resolved absolute path.

    >>> claude_slug("/work/my_app.v2")
    '-work-my-app-v2'
    """
    text = str(cwd)
    units = text.encode("utf-16-le")
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    slug = "".join(chr(c) if c < 128 and chr(c).isalnum() else "-" for c in codes)
    if len(slug) <= _SLUG_MAX:
        return slug
    h = 0
    for c in codes:  # JavaScript: h = (h << 5) - h + c | 0
        h = ((h << 5) - h + c) & 0xFFFFFFFF
    h = abs(h - (1 << 32) if h >= 1 << 31 else h)
    return f"{slug[:_SLUG_MAX]}-{_base36(h)}"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def claude_project_dir(home: Path, cwd: Path) -> Path:
    """``home/.claude/projects/<claude_slug(cwd)>``: where Claude Code writes cwd's sessions.

    (``CLAUDE_CONFIG_DIR``, when set, replaces ``home/.claude``; pass that case yourself.)
    """
    return Path(home) / ".claude" / "projects" / claude_slug(cwd)


@dataclass(frozen=True)
class Folder:
    """A folder of transcripts: files matching ``pattern`` in it (``recursive``: at any depth);
    ``cwd_in`` (Codex) keeps only rollouts whose ``session_meta`` cwd is one of these dirs."""

    path: Path
    pattern: str = "*.jsonl"
    recursive: bool = False
    cwd_in: tuple[str, ...] | None = None


@dataclass
class Source:
    """Where one agent's (or the given paths') transcripts are.

    ``files()`` is called on every poll, so sessions that start later are picked up; ``where``
    describes the places looked in, for the "nothing found" message; ``folders`` are those places
    as data (what `runtime.mirror` copies from a host).
    """

    agent: str | None
    where: str
    files: Callable[[], list[Path]]
    folders: list[Folder] = field(default_factory=list)


def _env(config: Config, agent: AgentConfig, key: str) -> str | None:
    """``key`` as the agent's process sees it: agent env, then backend env, then ours."""
    for env in (agent.env, config.backend_of(agent).env):
        if env.get(key):
            return env[key]
    if config.host_of(agent) is not None:
        return None  # this machine's environment is not the host's
    return os.environ.get(key) or None


def _agent_dir(config: Config, agent: AgentConfig) -> Path:
    return Path(agent.dir or config.root)


def _expand(raw: str, home: Path, base: Path) -> Path:
    """A configured path: ``~`` is the agent HOME; relative paths start at ``base``."""
    if raw == "~" or raw.startswith("~/"):
        return home / raw[2:]
    return base / raw


def remote_home(config: Config, agent: AgentConfig) -> str:
    """The HOME an agent on a `[[host]]` runs with, as a path on that host: its scratch HOME
    (`<host log_dir>/homes/<agent>`), else the HOME its env sets, else "~" (the remote user's)."""
    host = config.host_of(agent)
    if host is not None and config.backend_of(agent).home == "scratch":
        return str(PurePosixPath(host.log_dir) / "homes" / agent.name)
    for env in (agent.env, config.backend_of(agent).env):
        if env.get("HOME"):
            return env["HOME"]
    return "~"


def _on_host(config: Config, agent: AgentConfig, raw: str) -> Path:
    """The local copy (`runtime.mirror`) of path `raw` on the agent's host."""
    from agent_orchestrator.runtime.mirror import mirror_path

    host = config.host_of(agent)
    assert host is not None
    return mirror_path(Path(config.defaults.log_dir), host.name, raw)


def agent_home(config: Config, agent: AgentConfig) -> Path:
    """The HOME the agent runs with: its scratch HOME for a `home = "scratch"` backend, else
    the env's (a relative one is taken from the agent's dir), else ours. For an agent on a
    `[[host]]`: the local copy of its HOME there (`remote_home`)."""
    if config.host_of(agent) is not None:
        return _on_host(config, agent, remote_home(config, agent))
    if config.backend_of(agent).home == "scratch":
        return scratch_home(Path(config.defaults.log_dir), agent.name)
    return _expand(_env(config, agent, "HOME") or str(Path.home()), Path.home(), _agent_dir(config, agent))


def _dir_variants(path: Path) -> list[Path]:
    """The dir as configured and with symlinks resolved: the CLIs record their real cwd."""
    real = Path(os.path.realpath(path))
    return [path] if real == path else [path, real]


def agent_source(config: Config, agent: AgentConfig) -> Source:
    """Where `agent`'s transcripts are. Raises ValueError if its backend writes none."""
    backend = config.backend_of(agent)
    reader, raw = backend.transcripts.reader, backend.transcripts.path
    if reader not in ("claude", "codex"):
        raise ValueError(f'agent "{agent.name}": backend "{backend.name}" has no transcript reader '
                         f'(transcripts.reader = "{reader}"); use --path FILE_OR_DIR')  # fmt: skip
    home, cwd = agent_home(config, agent), _agent_dir(config, agent)
    remote = config.host_of(agent) is not None

    def expand(value: str, base: Path) -> Path:
        if remote and value.startswith("/"):
            return _on_host(config, agent, value)  # an absolute path on the host: its local copy
        return _expand(value, home, base)

    custom = raw and raw != PRESETS[reader]["transcripts"]["path"]
    base = expand(raw, config.root) if custom else None
    variants = [cwd] if remote else _dir_variants(cwd)  # symlinks are the host's, not resolvable here
    if reader == "claude":
        cfg = _env(config, agent, "CLAUDE_CONFIG_DIR")
        if base is None and cfg:
            base = expand(cfg, cwd) / "projects"
        folders = [base / claude_slug(d) if base else claude_project_dir(home, d) for d in variants]
        folders = list(dict.fromkeys(folders))
        where = " and ".join(f"{f}/*.jsonl" for f in folders)
        return Source(agent.name, where, lambda: [p for f in folders for p in f.glob("*.jsonl") if p.is_file()],
                      [Folder(f) for f in folders])
    codex_home = _env(config, agent, "CODEX_HOME")
    sessions = base or (expand(codex_home, cwd) if codex_home else home / ".codex") / "sessions"
    dirs = {str(d) for d in variants}
    match = _CodexCwd(dirs)
    where = f"{sessions}/**/rollout-*.jsonl with cwd {cwd}"
    return Source(agent.name, where, lambda: [p for p in sessions.rglob("rollout-*.jsonl") if match(p)],
                  [Folder(sessions, "rollout-*.jsonl", recursive=True, cwd_in=tuple(sorted(dirs)))])


@dataclass
class _CodexCwd:
    """Does a rollout belong to one of ``dirs``? Its first line (``session_meta``) says; cached."""

    dirs: set[str]
    known: dict[Path, bool] = field(default_factory=dict)

    def __call__(self, path: Path) -> bool:
        if path not in self.known:
            try:
                with open(path, "rb") as f:
                    first = f.readline()
            except OSError:
                return False
            if not first.endswith(b"\n"):
                return False  # still being written: decide on a later poll
            try:
                rec = json.loads(first)
            except ValueError:
                rec = None
            meta = codex_session_meta(rec) if isinstance(rec, dict) else None
            cwd = meta.cwd if meta is not None else None
            self.known[path] = isinstance(cwd, str) and (cwd in self.dirs or os.path.realpath(cwd) in self.dirs)
        return self.known[path]


def path_source(paths: Iterable[Path]) -> Source:
    """Given files, and every ``*.jsonl`` under given folders. Raises ValueError for a missing path."""
    paths = [Path(os.path.abspath(p)) for p in paths]  # events name their source file absolutely
    for p in paths:
        if not p.exists():
            raise ValueError(f"no such transcript file or folder: {p}")

    def files() -> list[Path]:
        return [f for p in paths for f in (sorted(p.rglob("*.jsonl")) if p.is_dir() else [p]) if f.is_file()]

    return Source(None, ", ".join(str(p) for p in paths), files)


def transcript_files(config: Config, agent: AgentConfig) -> list[tuple[str, Path]]:
    """(reader kind, path) of every transcript of `agent`; [] when its backend writes none."""
    reader = config.backend_of(agent).transcripts.reader
    if reader not in ("claude", "codex"):
        return []
    return [(reader, path) for path in agent_source(config, agent).files()]
