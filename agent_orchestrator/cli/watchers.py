"""`agents watch | flags [resolve] | pause | resume | run` — domain watchers and issue runs."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path
from typing import Optional

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.config import ConfigError
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchers.framework import DecisionLedger
from agent_orchestrator.watchers.sources import watchdog_state

flags_app = typer.Typer(help="Decisions of the domain watchers: list them, resolve one.")


def watch(ctx: typer.Context, name: str = typer.Argument(..., help="The watcher agent to run.")) -> None:
    """Run a watcher agent's loop in the foreground (`up` runs it in the agent's session)."""
    from agent_orchestrator.watchers.host import HostError, run_watcher

    common.load(ctx)
    try:
        run_watcher(common.config_path(ctx), name)
    except HostError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    except ConfigError as exc:
        for line in exc.lines:
            common.err.print(line, markup=False)
        raise typer.Exit(common.EXIT_USAGE) from None


@flags_app.callback(invoke_without_command=True)
def flags(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print every decision (with its resolution) as JSON."),
    open_only: bool = typer.Option(False, "--open", help="Only flags nobody resolved yet."),
    watcher: Optional[str] = typer.Option(None, "--watcher", "-w", help="Only this watcher agent's decisions."),
) -> None:
    """List the watchers' decisions (newest last); `flags resolve ID` closes one."""
    if ctx.invoked_subcommand is not None:
        return
    config = common.load(ctx)
    ledger = DecisionLedger(Path(config.defaults.log_dir))
    found = ledger.flags(watcher=watcher, open_only=open_only)
    if as_json:
        common.out.print_json(json.dumps([{**f.decision.to_dict(), "open": f.open, "resolution": f.resolution} for f in found],
                                         default=str))
        return
    if not found:
        common.out.print(f"no {'open ' if open_only else ''}decisions in {ledger.path}", markup=False)
        return
    common.out.print(render.flags_table(found, time.time()))
    still = sum(f.open for f in found)
    common.out.print(f"{len(found)} decision{'s' if len(found) != 1 else ''}, {still} open", markup=False)


@flags_app.command()
def resolve(
    ctx: typer.Context,
    decision: str = typer.Argument(..., help="Decision id (or an unambiguous prefix, as `flags` shows it)."),
    note: str = typer.Option("", "--note", "-m", help="Why it is resolved (kept in the ledger)."),
) -> None:
    """Close a flag: appends a resolution record (the decision itself is never rewritten)."""
    config = common.load(ctx)
    ledger = DecisionLedger(Path(config.defaults.log_dir))
    matches = ledger.find(decision)
    if not matches:
        common.fail(f"{decision}: no such decision in {ledger.path}", common.EXIT_USAGE)
    if len(matches) > 1:
        common.fail(f"{decision}: ambiguous, matches {', '.join(d.id for d in matches[:5])}", common.EXIT_USAGE)
    target = matches[0]
    done = ledger.resolve(target.id, by=_who(), note=note)
    if done is None:
        common.out.print(f"{target.id} was already resolved; nothing changed", markup=False)
        return
    common.out.print(f"resolved {target.id} ({target.watcher}: {target.entity_id}): {target.reasoning}", markup=False)


def _who() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def _pause_or_resume(ctx: typer.Context, name: str, action: str) -> None:
    proj = common.project(ctx)
    agent = proj.config.agent(name)
    if agent is None:
        kind = "a service; only agents can be" if proj.config.service(name) else "no such agent; agents:"
        known = "" if proj.config.service(name) else " " + ", ".join(a.name for a in proj.config.agents)
        common.fail(f"{name}: {kind}{known} {action}d".rstrip(), common.EXIT_USAGE)
    if watchdog_state(proj.log_dir).agent(name).paused == (action == "pause"):
        common.out.print(f"{name} is already {action}d; requesting it again anyway", markup=False)
    path = request_watchdog(proj.log_dir, action, name)
    holder = lock_holder(proj.log_dir)
    if action == "pause":
        effect = (f"the watchdog will leave {name} alone — no heal, stall nudge or wake — until `agents resume {name}`; "
                  f"its session keeps running")
        if proj.config.is_watcher(agent):
            effect += "; a paused watcher's ticks do nothing"
    else:
        effect = f"the watchdog supervises {name} again (heal, stall, wakes as configured)"
    if holder:
        when = f"the watchdog (pid {holder}) applies it on its next tick (within {proj.config.watchdog.signal_interval:g}s)"
    else:
        when = f"no watchdog is running: the request waits in {path} and applies when one starts (`agents up`)"
    common.out.print(f"{action} requested for {name}: {when}; {effect}.", markup=False)


def pause(ctx: typer.Context, name: str = typer.Argument(..., help="Agent to pause.")) -> None:
    """Ask the watchdog to leave an agent alone (no heal, stall nudge or wake) until `resume`."""
    _pause_or_resume(ctx, name, "pause")


def resume(ctx: typer.Context, name: str = typer.Argument(..., help="Agent to resume.")) -> None:
    """Undo `pause`: the watchdog supervises the agent again."""
    _pause_or_resume(ctx, name, "resume")


def run(
    ctx: typer.Context,
    issue: str = typer.Argument(..., help="Issue id (any text without line breaks, e.g. 42 or PROJ-7)."),
    agent: str = typer.Option(..., "--agent", "-a", help="The task agent that works on it."),
    prompt_file: Path = typer.Option(..., "--prompt-file", "-p", help="The prompt the agent starts with."),
) -> None:
    """Start a task agent on an issue and record the run for the issue-run watcher."""
    from agent_orchestrator.watchers.issue_runs.store import RunError, start_run

    proj = common.project(ctx)
    try:
        started = start_run(proj, issue, agent, prompt_file, time.time())
    except RunError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    common.out.print(render.outcome_table([started.outcome]))
    if started.outcome.failed:
        raise typer.Exit(common.EXIT_FAILURE)
    base = (started.run["base"] or "")[:8] or "no commit yet"
    common.out.print(f"run of issue {started.run['issue']} recorded in {proj.log_dir / 'state' / 'runs.json'} "
                     f"(repo {started.run['repo']} at {base})", markup=False)
    if started.watchers:
        common.out.print(f"watched by {', '.join(started.watchers)}", markup=False)
    else:
        common.err.print('warning: no enabled watcher agent with watcher = "issue-runs": nothing will tick this run', markup=False)


def open_flags(config) -> dict[str, int] | None:
    """Open flags per watcher agent for `status` (None when the project has no watcher)."""
    from agent_orchestrator.watchers.framework import open_counts

    names = [a.name for a in config.watchers()]
    if not names:
        return None
    counts = open_counts(DecisionLedger(Path(config.defaults.log_dir)))
    return {n: counts.get(n, 0) for n in names}
