"""`agents watcher run NAME | flags [resolve]` — domain watcher agents and their decisions.

`agents watch NAME` is the former name of `watcher run NAME`: a hidden alias, kept for one release.
"""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.config import Config, ConfigError
from agent_orchestrator.watchers.ledger import DecisionLedger, open_counts

watcher_app = typer.Typer(help="Domain watcher agents: run one in the foreground.", no_args_is_help=True)
flags_app = typer.Typer(help="Decisions of the domain watchers: list them, resolve one.")


@watcher_app.command("run")
def run(ctx: typer.Context, name: str = typer.Argument(..., help="The watcher agent to run.")) -> None:
    """Run a watcher agent's loop in the foreground (`up` runs it in the agent's session).

    Exits 2 when the config does not validate or `name` is not a watcher agent.
    """
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


def watch(ctx: typer.Context, name: str = typer.Argument(..., help="The watcher agent to run.")) -> None:
    """Former name of `watcher run NAME` (hidden; kept for one release)."""
    run(ctx, name)


@flags_app.callback(invoke_without_command=True)
def flags(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print every decision (with its resolution) as JSON."),
    open_only: bool = typer.Option(False, "--open", help="Only flags nobody resolved yet."),
    watcher: str | None = typer.Option(None, "--watcher", "-w", help="Only this watcher agent's decisions."),
) -> None:
    """List the watchers' decisions (newest last); `flags resolve ID` closes one."""
    if ctx.invoked_subcommand is not None:
        return
    config = common.load_readonly(ctx)
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
    """Close a flag: appends a resolution record (the decision itself is never rewritten).

    Exits 2 when no decision, or more than one, matches.
    """
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


def open_flags(config: Config) -> dict[str, int] | None:
    """Open flags per watcher agent name for `status` (None when the project has no watcher)."""
    names = [a.name for a in config.watchers()]
    if not names:
        return None
    counts = open_counts(DecisionLedger(Path(config.defaults.log_dir)))
    return {n: counts.get(n, 0) for n in names}
