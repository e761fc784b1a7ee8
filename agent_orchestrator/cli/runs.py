"""`agents run ISSUE --agent NAME --prompt-file F` — start a task agent on an issue and record the
run for the issue-run watcher (`watchers/issue_runs`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from agent_orchestrator.cli import common, render


def run(
    ctx: typer.Context,
    issue: str = typer.Argument(..., help="Issue id (any text without line breaks, e.g. 42 or PROJ-7)."),
    agent: str = typer.Option(..., "--agent", "-a", help="The task agent that works on it."),
    prompt_file: Path = typer.Option(..., "--prompt-file", "-p", help="The prompt the agent starts with."),
) -> None:
    """Start a task agent on an issue and record the run for the issue-run watcher.

    Exits 2 when the run cannot be started (see `start_run`), 1 when the agent's start fails or
    the runs file holds a malformed record.
    """
    from agent_orchestrator.watchers.issue_runs.store import RunError, RunRecordError, start_run

    proj = common.project(ctx, machine=True)
    try:
        started = start_run(proj, issue, agent, prompt_file, time.time())
    except RunError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    except RunRecordError as exc:
        common.fail(str(exc), common.EXIT_FAILURE)
    common.out.print(render.outcome_table([started.outcome]))
    if started.outcome.failed:
        raise typer.Exit(common.EXIT_FAILURE)
    base = (started.run.base or "")[:8] or "no commit yet"
    common.out.print(f"run of issue {started.run.issue} recorded in {proj.log_dir / 'state' / 'runs.json'} "
                     f"(repo {started.run.repo} at {base})", markup=False)
    if started.watchers:
        common.out.print(f"watched by {', '.join(started.watchers)}", markup=False)
    else:
        common.err.print('warning: no enabled watcher agent with watcher = "issue-runs": nothing will tick this run', markup=False)
