"""`agents pause | resume` — hold the watchdog's supervision of one agent, and lift the hold.

Both queue a request in `<log_dir>/state/requests/` that the watchdog applies on its next tick
(or when one starts), and say which of the two will happen.
"""

from __future__ import annotations

import typer

from agent_orchestrator.cli import common
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchers.sources import watchdog_state


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
    """Ask the watchdog to leave an agent alone (no heal, stall nudge or wake) until `resume`.

    Exits 2 when `name` is not an agent of the config.
    """
    _pause_or_resume(ctx, name, "pause")


def resume(ctx: typer.Context, name: str = typer.Argument(..., help="Agent to resume.")) -> None:
    """Undo `pause`: the watchdog supervises the agent again.

    Exits 2 when `name` is not an agent of the config.
    """
    _pause_or_resume(ctx, name, "resume")
