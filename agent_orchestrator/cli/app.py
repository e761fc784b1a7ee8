"""The `agents` command line (typer + rich). Each verb parses, calls the core, prints.

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error. `--config PATH` is accepted before
or after the verb (default ./agents.toml).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import typer

from agent_orchestrator.cli import common, render
from agent_orchestrator.cli import doctor as doctor_cli
from agent_orchestrator.cli import phase as phase_cli
from agent_orchestrator.cli import rehearse as rehearse_cli
from agent_orchestrator.cli import runs as runs_cli
from agent_orchestrator.cli import supervise as supervise_cli
from agent_orchestrator.cli import tokens as tokens_cli
from agent_orchestrator.cli import watchers as watchers_cli
from agent_orchestrator.cli.init import ScaffoldError, init_project
from agent_orchestrator.config import ConfigError
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import UnknownNameError, sandbox_note
from agent_orchestrator.watchdog.requests import current_phase_index, request_watchdog
from agent_orchestrator.watchdog.view import explain, held_states, truths, watchdog_info

app = typer.Typer(
    name="agents",
    help="Run a team of AI coding agents in tmux and keep it working.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(phase_cli.app, name="phase")
app.add_typer(rehearse_cli.app, name="rehearse")
app.command("tokens")(tokens_cli.tokens)
app.add_typer(watchers_cli.flags_app, name="flags")
app.add_typer(watchers_cli.watcher_app, name="watcher")
app.command("watch", hidden=True)(watchers_cli.watch)  # the former `watcher run`, kept for one release
app.command("pause")(supervise_cli.pause)
app.command("resume")(supervise_cli.resume)
app.command("run")(runs_cli.run)
app.command("doctor")(doctor_cli.doctor)
out, err = common.out, common.err
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = common.EXIT_OK, common.EXIT_FAILURE, common.EXIT_USAGE
fail, config_path, load, project = common.fail, common.config_path, common.load, common.project


@app.callback()
def _main(
    ctx: typer.Context,
    config: Path = typer.Option(Path("agents.toml"), "--config", "-c", help="Path of agents.toml (accepted before or after the verb)."),
) -> None:
    ctx.obj = {"config": str(config)}


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check agents.toml without starting anything: prints "ok" and a summary, or the errors (exit 2)."""
    config = load(ctx)
    out.print(f"ok: {config_path(ctx)}: {render.summary(config)}", markup=False)


@app.command()
def up(ctx: typer.Context, names: list[str] | None = typer.Argument(None, help="Agents/services to start (default: all enabled).")) -> None:
    """Start enabled agents and services that are not running; running ones are left alone."""
    proj = project(ctx)
    try:
        with err.status("starting…") as spinner:
            outcomes = proj.up(names or (), progress=lambda msg: spinner.update(msg))
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    out.print(render.outcome_table(outcomes))
    if proj.sandboxed:
        out.print(sandbox_note(proj.sandboxed), markup=False)
    held = held_states(proj.log_dir)
    for o in outcomes:  # stopped by `down NAME` earlier: supervised again
        if held.get(o.name) is not None and held[o.name].state == "paused" and (names or o.name != "watchdog"):
            request_watchdog(proj.log_dir, "resume", o.name)
    if any(o.failed for o in outcomes):
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def down(ctx: typer.Context, names: list[str] | None = typer.Argument(None, help="Agents/services to stop (default: all).")) -> None:
    """Stop agents and services (kills their sessions). Idempotent."""
    proj = project(ctx)
    try:
        outcomes = proj.down(names or ())
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    out.print(render.outcome_table(outcomes))
    for name in names or ():  # the running watchdog would otherwise heal what was just stopped
        request_watchdog(proj.log_dir, "pause", name)
    if names:
        out.print(f"the watchdog leaves {', '.join(names)} stopped until `agents up {' '.join(names)}`", markup=False)


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the same facts as JSON."),
    why: str | None = typer.Option(None, "--why", metavar="NAME", help="Explain the watchdog's verdict on one agent: what each witness said, and when."),
) -> None:
    """Show every agent and service and its state (starts nothing)."""
    proj = project(ctx)
    if why is not None:
        if proj.config.agent(why) is None:
            fail(f"{why}: no such agent (agents: {', '.join(a.name for a in proj.config.agents) or 'none'})", EXIT_USAGE)
        for line in explain(proj.log_dir, why, time.time()):
            out.print(line, markup=False)
        return
    panes = proj.runtime.observe()
    doing = truths(proj.log_dir)
    held = held_states(proj.log_dir)
    rows = [render.with_held(r, held.get(r.name)) for r in proj.status(panes)] + [proj.watchdog_status(panes)]
    flags = watchers_cli.open_flags(proj.config)
    info = watchdog_info(proj.log_dir)
    server = proj.config.defaults.tmux_socket or "default tmux server"
    if as_json:
        payload = {
            "config": str(proj.config.path),
            "session_prefix": proj.config.defaults.session_prefix,
            "tmux_socket": proj.config.defaults.tmux_socket,
            "agents": [{**r.to_dict(), "held": held[r.name].detail if r.name in held else None,
                        **({"doing": doing[r.name].state, "source": doing[r.name].source} if r.name in doing else {}),
                        **({"open_flags": flags[r.name]} if flags and r.name in flags else {})} for r in rows],
            "watchdog": info,
        }
        out.print_json(json.dumps(payload))
        return
    out.print(f"[bold]{proj.config.path}[/bold] — {render.summary(proj.config)} — tmux: {server}")
    out.print(render.status_table(proj.config, rows, flags=flags, doing=doing))
    for name, h in held.items():
        out.print(f"{name}: {h.state} — {h.detail}", markup=False)
    if info.get("config_error"):
        err.print("the watchdog is running on the last good config; agents.toml does not validate:", style="bold red")
        err.print(info["config_error"], markup=False)


@app.command()
def attach(ctx: typer.Context, name: str = typer.Argument(..., help="Agent or service to attach to.")) -> None:
    """Attach this terminal to the agent's tmux session (exact target, right server)."""
    proj = project(ctx)
    try:
        unit = proj.select([name])[0]
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    session = unit.session or ""
    if not proj.runtime.has_session(session):
        fail(f"{name} is not running (session {session}); start it with `agents up {name}`")
    inside_same_server = os.environ.get("TMUX") and not proj.config.defaults.tmux_socket
    verb = ["switch-client", "-t", f"={session}"] if inside_same_server else ["attach-session", "-t", f"={session}"]
    argv = proj.runtime.base_argv() + verb
    os.execvp(argv[0], argv)


@app.command()
def send(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent to send to."),
    text: str | None = typer.Argument(None, help="The message (or use --file)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the message from this file ('-' = stdin)."),
) -> None:
    """Paste a message into an agent, submit it, and verify it was submitted (exit 1 if not)."""
    if (text is None) == (file is None):
        fail("give the message as TEXT or with --file FILE (one of them)", EXIT_USAGE)
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{file}: cannot read: {exc.strerror}", EXIT_USAGE)
    assert text is not None
    if not text.strip():
        fail("the message is empty", EXIT_USAGE)
    proj = project(ctx)
    try:
        result = proj.send(name, text)
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    if not result.ok:
        fail(f"{name}: not delivered: {result.reason}")
    out.print(f"delivered to {name}" + (f" (after {result.attempts} submits)" if result.attempts > 1 else ""))


@app.command()
def logs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent or service."),
    lines: int = typer.Option(40, "-n", "--lines", min=1, help="How many rows (scrollback included)."),
) -> None:
    """Print the recent screen of an agent's pane."""
    proj = project(ctx)
    try:
        rows = proj.logs(name, lines)
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    except TmuxError:
        fail(f"{name} is not running; nothing to show")
    for row in rows:
        out.print(row, markup=False, highlight=False, soft_wrap=True)


@app.command()
def watchdog(ctx: typer.Context, once: bool = typer.Option(False, "--once", help="One tick, then exit (tests, debugging).")) -> None:
    """Run the watchdog in the foreground (`up` runs it in its own session)."""
    from agent_orchestrator.watchdog.driver import Watchdog
    from agent_orchestrator.watchdog.lock import LockHeld

    load(ctx)
    try:
        Watchdog(config_path(ctx)).run(once=once)
    except LockHeld as exc:
        fail(str(exc))
    except ConfigError as exc:
        for line in exc.lines:
            err.print(line, markup=False)
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def restart(ctx: typer.Context, name: str = typer.Argument(..., help="Agent or service to restart.")) -> None:
    """Restart an agent fresh with its kickoff; clears a needs-human hold of the watchdog."""
    proj = project(ctx)
    try:
        unit = proj.select([name])[0]
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    outcome = proj.start(unit, proj.runtime.observe().get(unit.session or ""), current_phase_index(proj))
    request_watchdog(proj.log_dir, "clear", name)
    out.print(render.outcome_table([outcome]))
    if outcome.failed:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def selftest(
    captures: Path | None = typer.Option(None, "--captures", help="Folder of labelled captures (<name>.txt + <name>.json); default: every bundled corpus."),
) -> None:
    """Run the pane-state detectors over labelled screen captures (each read with the screen table of its labelled CLI version); exit 1 on any miss."""
    from agent_orchestrator.screen.detect import bundled_corpora, check_captures

    folders = [captures] if captures else bundled_corpora()
    results = []
    for folder in folders:
        if not folder.is_dir():
            fail(f"{folder}: no such folder of captures", EXIT_USAGE)
        found = check_captures(folder)
        if not found:
            fail(f"{folder}: no labelled captures (<name>.txt + <name>.json with cli and state)", EXIT_USAGE)
        if len(folders) > 1:
            out.print(f"{folder.name}:", markup=False)
        for r in found:
            mark = "[green]pass[/green]" if r.ok else "[red]FAIL[/red]"
            detail = "" if r.ok else f" — got {r.got}" + (f" ({r.reason})" if r.reason and r.got is None else "")
            out.print(f"{mark} {r.name} ({r.cli}: {r.expected}){detail}")
        results += found
    failed = sum(not r.ok for r in results)
    out.print(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def init(directory: Path = typer.Argument(..., help="Folder for the new project (created if missing).")) -> None:
    """Scaffold a starter agents.toml (with a unique session_prefix), prompts/ and a first plan."""
    try:
        written = init_project(directory)
    except ScaffoldError as exc:
        fail(str(exc), EXIT_USAGE)
    for path in written:
        out.print(f"wrote {path}", markup=False)
    out.print(f"next: edit {directory / 'agents.toml'}, then `agents --config {directory / 'agents.toml'} validate`", markup=False)


def normalize_argv(argv: list[str]) -> list[str]:
    """Move `--config PATH` / `--config=PATH` / `-c PATH` in front of the verb so it works anywhere.

    Arguments after a literal `--` are left alone.
    """
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg in ("--config", "-c") and i + 1 < len(argv):
            moved += ["--config", argv[i + 1]]
            i += 2
            continue
        if arg.startswith("--config="):
            moved.append(arg)
        else:
            rest.append(arg)
        i += 1
    return moved + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    common.run_quietly_on_closed_pipe(lambda: app(args=args, prog_name="agents"))
