"""What a valid config needs from this machine: working folders that exist and agent CLIs that run.

`load_config` checks the file; `check_environment` checks the machine the file will run on, so a
typo in a path or a binary name is one clear line at `validate` instead of a pane that dies at
`up` with a misleading "not found on PATH". Only what `up` would use is checked: the working
folders of enabled agents and services, `[loop].repo`, and the executables of the backends enabled
agents run on. Units on another `[[host]]` are not checked here: their folders and CLIs are on
that machine (its launcher says what is missing on the pane, as it does here).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent_orchestrator.config.fields import show
from agent_orchestrator.config.schema import AgentConfig, BackendConfig, Config


def executable(bin_: str, cwd: Path, env: dict[str, str]) -> str | None:
    """Why `bin_` cannot be executed the way the pane launcher runs it (`os.execvpe` after a
    chdir to `cwd`, PATH from `env` or this process's), or None when it can.

    A name with a '/' is a path (relative to `cwd`); any other name is looked up on PATH.
    """
    if "/" in bin_:
        path = Path(bin_).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.exists():
            return f"{show(bin_)}: no such file ({path})"
        if path.is_dir() or not os.access(path, os.X_OK):
            return f"{show(bin_)} is not executable ({path})"
        return None
    search = env.get("PATH", os.environ.get("PATH", os.defpath))
    if shutil.which(bin_, path=search) is None:
        close = next((p for p in search.split(os.pathsep) if p and (Path(p) / bin_).exists()), None)
        if close is not None:
            return f"{show(bin_)} is on PATH ({close}) but not executable"
        return f"{show(bin_)} not found on PATH (install it, or give bin a full path)"
    return None


def _launch_bin(backend: BackendConfig) -> tuple[str, str] | None:
    """(key, executable) of what a backend runs first, or None when it is a template slot."""
    if backend.prompt_delivery == "exec" and backend.exec_template:
        first = backend.exec_template[0]
        if first == "{bin}":
            return "bin", backend.bin
        return None if "{" in first else ("exec_template[0]", first)  # another slot: known only at launch
    return "bin", backend.bin


def check_environment(config: Config) -> list[str]:
    """One line per problem, shaped like `ConfigError` lines (``<file>: <key>: <message>``):
    a working folder that does not exist (an enabled agent's or service's `dir`, `[loop].repo`),
    or a backend executable used by an enabled agent that is missing or not executable.
    """
    shown = str(config.path)
    lines: list[str] = []
    units: list[tuple[str, str, Path | None, bool]] = [(f"agent[{i}]", a.name, a.dir, a.enabled) for i, a in enumerate(config.agents)
                                                       if config.host_of(a) is None]
    units += [(f"service[{i}]", s.name, s.dir, s.enabled) for i, s in enumerate(config.services) if config.host_of(s) is None]
    for key, name, folder, enabled in units:
        if enabled and folder is not None and not Path(folder).is_dir():
            lines.append(f"{shown}: {key}.dir: working directory {folder} does not exist (of {name}; create it or fix dir)")
    if config.loop is not None and config.loop.repo is not None and not Path(config.loop.repo).is_dir():
        lines.append(f"{shown}: loop.repo: {config.loop.repo} does not exist (the handoff clone; clone it there or fix repo)")
    users: dict[str, list[AgentConfig]] = {}
    for agent in config.agents:
        if agent.enabled and agent.backend in config.backends and config.host_of(agent) is None:
            users.setdefault(agent.backend, []).append(agent)
    for name, agents in users.items():
        backend = config.backends[name]
        found = _launch_bin(backend)
        if found is None or not found[1]:
            continue
        key, bin_ = found
        problems = {executable(bin_, Path(a.dir or config.root), {**backend.env, **a.env}) for a in agents}
        used = ", ".join(a.name or "" for a in agents)
        lines.extend(f"{shown}: backend.{name}.{key}: {problem} (used by {used})" for problem in sorted(p for p in problems if p))
    return lines
