"""`agents phase show|set|advance|reset` — parse, call phasectl, print."""

from __future__ import annotations

import json

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.watchdog import phasectl

app = typer.Typer(help="Inspect and steer the phase sequence.", no_args_is_help=True)


@app.command()
def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print the facts as JSON.")) -> None:
    """The current phase: id, index/total, plan, status file, done?, time in phase, complete?"""
    config = common.load_readonly(ctx)
    try:
        info = phasectl.phase_info(config)
    except phasectl.PhaseError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if as_json:
        common.out.print_json(json.dumps(info.to_dict()))
        return
    common.out.print(render.phase_panel(info))


def _steer(ctx: typer.Context, verb: str, phase_id: str | None, yes: bool) -> None:
    proj = common.project(ctx)
    try:
        index = phasectl.target_index(proj.config, verb, phase_id)
    except phasectl.PhaseError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    target = proj.config.loop.phases[index].id  # type: ignore[union-attr]
    running = phasectl.running_loop_agents(proj)
    plan = f"phase {verb}: move to {target} (phase {index + 1} of {len(proj.config.loop.phases)})"  # type: ignore[union-attr]
    if running:
        plan += f"; this restarts the running loop agents ({', '.join(running)}) fresh with the {target} kickoff"
    if verb == "reset":
        plan += "; on_complete may run again when the sequence completes"
    common.out.print(plan, markup=False)
    if running and not yes:
        common.fail("agents are up: add --yes to go ahead", common.EXIT_USAGE)
    how, outcomes = phasectl.apply(proj, verb, index)
    common.out.print(f"done: {how}", markup=False)
    if outcomes:
        common.out.print(render.outcome_table(outcomes))


@app.command("set")
def set_(ctx: typer.Context, phase_id: str = typer.Argument(..., help="Phase id to move to."),
         yes: bool = typer.Option(False, "--yes", "-y", help="Go ahead although agents are up.")) -> None:
    """Move to phase ID (restarts running loop agents with its kickoff)."""
    _steer(ctx, "set", phase_id, yes)


@app.command()
def advance(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", "-y", help="Go ahead although agents are up.")) -> None:
    """Move to the next phase without waiting for the done marker."""
    _steer(ctx, "advance", None, yes)


@app.command()
def reset(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", "-y", help="Go ahead although agents are up.")) -> None:
    """Back to the first phase; forgets completion and the gate in flight."""
    _steer(ctx, "reset", None, yes)

