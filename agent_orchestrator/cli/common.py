"""Shared CLI plumbing: consoles, exit codes, config loading with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from agent_orchestrator.config import Config, ConfigError, load_config
from agent_orchestrator.project import Project

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print `message` on stderr and exit with `code`."""
    err.print(message, markup=False)
    raise typer.Exit(code)


def config_path(ctx: typer.Context) -> Path:
    """The --config path of this invocation."""
    return Path((ctx.obj or {}).get("config", "agents.toml"))


def load(ctx: typer.Context) -> Config:
    """Load and validate the config, or print every problem and exit 2."""
    try:
        return load_config(config_path(ctx))
    except ConfigError as exc:
        for line in exc.lines:
            err.print(line, markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def project(ctx: typer.Context) -> Project:
    """The project of this invocation's config."""
    return Project(load(ctx))


