"""`agents rehearse run|serve` — offline rehearsals against the scripted model."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import typer

from agent_orchestrator.cli import common, render

app = typer.Typer(help="Rehearse a team offline: the real agent CLI against a scripted model.", no_args_is_help=True)


@app.command()
def run(
    example: Path = typer.Argument(..., help="Example folder (agents.toml, setup.sh, playbooks/)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Give up after this many seconds."),
    keep: bool = typer.Option(False, "--keep", help="Keep the sandbox folder for inspection."),
    claude: str | None = typer.Option(
        None, "--claude",
        help="Path of the Claude Code CLI (default: the pinned version of the tested matrix: PATH's if it is that version, "
             "else .cache/cli/claude-code@<version>; AO_CLI_PINS=previous for the previous pin)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON at the end."),
    host: list[str] = typer.Option([], "--host", metavar="NAME=DEST",
                                   help="A [[host]] for the run: NAME=ssh destination (its log_dir: the sandbox's path, created there)."),
    on: list[str] = typer.Option([], "--on", metavar="UNIT=HOST", help="Run this agent or service on that --host."),
) -> None:
    """Run EXAMPLE in a sandbox to its end state, print status, phase and tokens, clean up."""
    from agent_orchestrator.rehearsal.runner import RehearsalError, run_rehearsal

    hosts: dict[str, dict[str, Any]] = {}
    placement: dict[str, str] = {}
    for flag, values in (("--host", host), ("--on", on)):
        for value in values:
            name, sep, other = value.partition("=")
            if not sep or not name or not other:
                common.fail(f"{flag} {value!r}: expected NAME=VALUE", common.EXIT_USAGE)
            if flag == "--host":
                hosts[name] = {"ssh": other}
            else:
                placement[name] = other
    # SIGTERM unwinds like Ctrl-C, so the sandbox is torn down either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        result = run_rehearsal(example, timeout=timeout, keep=keep, claude=claude, hosts=hosts, placement=placement,
                               progress=lambda line: common.err.print(line, markup=False, highlight=False))
    except RehearsalError as exc:
        common.fail(str(exc), common.EXIT_USAGE)
    if as_json:
        payload = {"ok": result.ok, "reason": result.reason, "elapsed_s": round(result.elapsed, 1), "phase": result.phase,
                   "tokens": result.tokens, "status": [r.to_dict() for r in result.status], "leftovers": result.leftovers}
        common.out.print_json(json.dumps(payload, default=str))
    else:
        if result.status:
            common.out.print("\n[bold]status[/bold]")
            common.out.print(render.status_table(None, result.status))  # type: ignore[arg-type]
        if result.phase:
            common.out.print("\n[bold]phase show[/bold]")
            common.out.print(render.phase_panel(_Info(result.phase)))
        if result.tokens:
            common.out.print("\n[bold]tokens[/bold]")
            common.out.print(render.tokens_table(result.tokens, []))
        verdict = "[green]rehearsal ok[/green]" if result.ok else "[red]rehearsal FAILED[/red]"
        common.out.print(f"\n{verdict}: {result.reason} ({result.elapsed:.0f}s){' — kept ' + str(result.sandbox) if keep else ''}")
    if not result.ok:
        raise typer.Exit(common.EXIT_FAILURE)


class _Info:
    def __init__(self, d: dict) -> None:
        self.__dict__.update(d)


@app.command()
def serve(
    playbook: Path = typer.Option(..., "--playbook", help="Playbook TOML file."),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (0: any free one)."),
    journal: Path | None = typer.Option(None, "--journal", help="Append one JSON line per request here."),
) -> None:
    """Serve the scripted model (Anthropic Messages + OpenAI Responses) on 127.0.0.1."""
    from agent_orchestrator.rehearsal.__main__ import main as serve_main

    argv = ["serve", "--playbook", str(playbook), "--port", str(port)] + (["--journal", str(journal)] if journal else [])
    sys.exit(serve_main(argv))
