"""Shared CLI plumbing: consoles, exit codes, config loading with clear errors.

Loading comes in two strengths. `load` / `project` (the verbs that start or steer: `validate`,
`up`, `restart`, `run`, …) refuse a config that does not validate; with `machine=True` they also
refuse one whose folders or agent CLIs are missing on this machine (`config.environment`). The
verbs that only look or stop (`status`, `logs`, `attach`, `down`, `phase show`, `tokens`, `flags`)
use `load_readonly` / `project_readonly`: when the file does not validate they run on the last good
config (`config.lastgood`) with one warning line naming the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from agent_orchestrator.cli.consoles import PIPE_WIDTH, err, out, run_quietly_on_closed_pipe
from agent_orchestrator.watchdog.events import iso

if TYPE_CHECKING:  # the config and runtime load on first use: `tokens --scan` starts without them (cli/entry.py)
    from agent_orchestrator.config import Config
    from agent_orchestrator.runtime.project import Project

__all__ = ["PIPE_WIDTH", "err", "out", "run_quietly_on_closed_pipe"]  # the consoles live in cli/consoles.py (no typer: `tokens --scan` starts fast)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print `message` on stderr and exit with `code`."""
    err.print(message, markup=False)
    raise typer.Exit(code)


def config_path(ctx: typer.Context) -> Path:
    """The --config path of this invocation."""
    return Path((ctx.obj or {}).get("config", "agents.toml"))


def _refuse(lines: list[str]) -> NoReturn:
    for line in lines:
        err.print(line, markup=False)
    raise typer.Exit(EXIT_USAGE)


def _warn_machine(config: Config) -> None:
    """One line when the machine lacks what `up` would need (see `config.environment`)."""
    from agent_orchestrator.config.environment import check_environment

    problems = check_environment(config)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        err.print(f"warning: {problems[0]}{more}; `agents validate` lists what `up` would refuse", markup=False, style="yellow")


def load(ctx: typer.Context, *, machine: bool = False, remember: bool = False) -> Config:
    """Load and validate the config, or print every problem and exit 2.

    `machine`: also check this machine (working folders, agent CLIs; `config.environment`) and
    refuse on a problem; otherwise a problem is one warning line. `remember`: save the config,
    once it passed, as the project's last good one (`config.lastgood`).
    """
    from agent_orchestrator.config import ConfigError, load_config
    from agent_orchestrator.config.environment import check_environment

    try:
        config = load_config(config_path(ctx))
    except ConfigError as exc:
        _refuse(exc.lines)
    if machine:
        problems = check_environment(config)
        if problems:
            _refuse(problems)
    else:
        _warn_machine(config)
    if remember:
        config.remember()
    return config


def load_readonly(ctx: typer.Context) -> Config:
    """The config for a verb that only looks or stops: the file when it validates, else the last
    good copy (with one warning line naming the first error); exit 2 when there is neither."""
    from agent_orchestrator.config import ConfigError, lastgood, load_config

    path = config_path(ctx)
    try:
        config = load_config(path)
    except ConfigError as exc:
        try:
            found = lastgood.load(path) if path.exists() else None
        except ConfigError as stale:
            _refuse([*exc.lines, f"{path}: the last good copy does not validate either: {stale.lines[0]}"])
        if found is None:
            _refuse(exc.lines)
        config, copy = found
        more = f" (and {len(exc.lines) - 1} more)" if len(exc.lines) > 1 else ""
        err.print(f"warning: {exc.lines[0]}{more}; using the last good config (saved {iso(copy.saved_at)}, {copy.copy}) "
                  "until the file validates", markup=False, style="yellow")
        if isinstance(ctx.obj, dict):
            ctx.obj["last_good"] = str(copy.copy)
        return config
    _warn_machine(config)
    return config


def fell_back(ctx: typer.Context) -> bool:
    """True when this invocation runs on the last good config (`load_readonly` warned)."""
    return bool((ctx.obj or {}).get("last_good"))


def project(ctx: typer.Context, *, machine: bool = False) -> Project:
    """The project of this invocation's config (see `load`)."""
    from agent_orchestrator.runtime.project import Project

    return Project(load(ctx, machine=machine, remember=machine))


def project_readonly(ctx: typer.Context) -> Project:
    """The project of this invocation's config, or of its last good copy (see `load_readonly`)."""
    from agent_orchestrator.runtime.project import Project

    return Project(load_readonly(ctx))
