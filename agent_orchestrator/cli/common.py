"""Shared CLI plumbing: consoles, exit codes, config loading with clear errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from agent_orchestrator.config import Config, ConfigError, load_config
from agent_orchestrator.runtime.project import Project

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




def run_quietly_on_closed_pipe(entry: Callable[[], object]) -> None:
    """Run a console entry point; end quietly when the reader of stdout goes away.

    `agents logs X | head -1` closes the pipe while we still write: like a Unix tool we stop,
    without a traceback and without Python's "Exception ignored ... BrokenPipeError" at exit
    (stdout is pointed at /dev/null so the final flush has somewhere to go). Exit status 141
    (128 + SIGPIPE), what a shell reports for a tool killed by SIGPIPE.
    """
    try:
        entry()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
