"""`agents doctor` — what this machine and the config's agents look like before `up`.

The facts come from `runtime.doctor.gather`; this module only prints them (or `--json`). Exit 0
when nothing is wrong (warnings allowed, unless `--strict`), 1 when something is, 2 for a
config error or an invalid AO_CLI_PINS / AO_<CLI>_VERSION.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from agent_orchestrator.cli import common
from agent_orchestrator.runtime import clis
from agent_orchestrator.runtime.doctor import Report, gather

_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "error": "bold red"}


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the same facts as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
) -> None:
    """Check the machine and the config's agents: tmux/git/node, each agent CLI's path and version
    against the tested matrix, hooks, the first-run state of each agent's HOME, root + IS_SANDBOX."""
    config = common.load(ctx)
    try:
        report = gather(config)
    except clis.MatrixError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if as_json:
        common.out.print_json(json.dumps(report.to_dict()))
    else:
        render(report)
    if not report.ok or (strict and report.count("warn")):
        raise typer.Exit(common.EXIT_FAILURE)


def render(report: Report) -> None:
    """Print `report` as sections: tools, matrix, backends, agents, findings, a summary line."""
    out = common.out

    root = Path(report.config).parent

    def line(text: str) -> None:
        out.print(text, markup=False)

    def short(path: str) -> str:  # paths inside the project, relative to it
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return path

    user = "root" if report.euid == 0 else f"uid {report.euid}"
    out.print(f"[bold]doctor[/bold] {escape(report.config)} (running as {user}; AO_CLI_PINS={escape(report.pins_choice)})")

    out.print("\n[bold]tools[/bold]")
    for t in report.tools:
        line(f"  {t.name} {t.version or '?'} ({t.path})" if t.path else f"  {t.name}: not found")

    out.print("\n[bold]tested CLI versions[/bold] (agent_orchestrator/data/cli-versions.toml)")
    for p in report.matrix:
        line(f"  {p.cli} ({p.package}): current {p.current}, previous {p.previous}; selected {p.selected}")
        line(f"      pinned copy: {p.pinned_path or f'not installed (scripts/ensure-{p.cli}.sh installs it)'}")

    out.print("\n[bold]backends[/bold] (used by enabled agents)")
    for b in report.backends:
        if b.path is None:
            where = f"bin {b.bin!r} not found"
        elif not b.tested:
            where = f"{b.path} (not an agent CLI of the matrix: version not probed)"
        else:
            tested = f"{b.matrix_column} pin" if b.matrix_column else "NOT in the tested matrix"
            where = f"{b.path}: {b.version_output or b.version_error or '?'}" + (f" ({tested})" if b.version else "")
        facts = [f"hooks {'on' if b.hooks else 'off'}"]
        if b.screen_table:
            facts.append(f"screen table {b.screen_table}" + (f" (screen_version {b.screen_version!r})" if b.screen_version else ""))
        line(f"  {b.name}: {where}")
        line(f"      {'; '.join(facts)}; agents: {', '.join(b.agents)}")

    out.print("\n[bold]agents[/bold] (first-run state of each HOME)")
    for a in report.agents:
        if a.state_file is None and not a.hooks:
            line(f"  {a.name} ({a.cli}): not an agent CLI of the matrix, no first-run state")
            continue
        line(f"  {a.name} ({a.cli}): HOME {short(a.home)}" + (" (scratch, prepared at `up`)" if a.scratch else ""))
        facts = []
        if a.state_file is not None:
            if not a.state_exists:
                facts.append(f"{short(a.state_file)}: missing")
            else:
                facts.append(f"{short(a.state_file)}: " + ", ".join(f"{c.key} {'yes' if c.ok else 'NO'}" for c in a.checks))
        if a.hook_settings is not None:
            present = "present" if a.hook_settings_exists else "absent"
            facts.append(f"hooks {'on' if a.hooks else 'off'}, {short(a.hook_settings)}: {present}")
        elif a.hooks:
            facts.append("hooks on")
        if a.is_sandbox is not None:
            facts.append("IS_SANDBOX=1 set by `up` (root)" if a.is_sandbox == "auto" else f"IS_SANDBOX={a.is_sandbox} (config)")
        for fact in facts:
            line(f"      {fact}")

    out.print("\n[bold]findings[/bold]")
    for f in report.findings:
        style = _STYLE[f.level]
        out.print(f"  [{style}]{f.level:<5}[/{style}] {escape(f.subject)}: {escape(f.message)}")
    errors, warnings = report.count("error"), report.count("warn")
    verdict = "[red]something is wrong[/red]" if not report.ok else "[yellow]fine, with warnings[/yellow]" if warnings else "[green]all fine[/green]"
    out.print(f"\n{verdict}: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
