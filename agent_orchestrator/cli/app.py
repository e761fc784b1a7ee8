"""The `agents` command line (typer + rich). Each verb parses, calls the core, prints.

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error. `--config PATH` is accepted before
or after the verb (default ./agents.toml).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

import typer

from agent_orchestrator import __version__
from agent_orchestrator.cli import common, render
from agent_orchestrator.cli import doctor as doctor_cli
from agent_orchestrator.cli import phase as phase_cli
from agent_orchestrator.cli import rehearse as rehearse_cli
from agent_orchestrator.cli import runs as runs_cli
from agent_orchestrator.cli import supervise as supervise_cli
from agent_orchestrator.cli import tokens as tokens_cli
from agent_orchestrator.cli import watchers as watchers_cli
from agent_orchestrator.cli.help import PlainFlagsGroup
from agent_orchestrator.cli.init import ScaffoldError, init_project
from agent_orchestrator.config import ConfigError
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.owner import ForeignSession
from agent_orchestrator.runtime.project import Project, UnknownNameError, sandbox_note
from agent_orchestrator.runtime.ssh import HostUnreachable
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.policies.budget import status_lines as budget_lines
from agent_orchestrator.watchdog.requests import current_phase_index, paused_after_requests, request_watchdog
from agent_orchestrator.watchdog.state import load_state
from agent_orchestrator.watchdog.view import explain, held_states, outboxes, supervision_note, truths, watchdog_info

app = typer.Typer(
    cls=PlainFlagsGroup,
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
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a tool stopped by Ctrl-C


def _version(value: bool) -> None:
    if value:
        out.print(f"agents {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    config: Path = typer.Option(Path("agents.toml"), "--config", "-c", help="Path of agents.toml (accepted before or after the verb)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    ctx.obj = {"config": str(config)}


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check agents.toml and what it needs on this machine (working folders, agent CLIs) without
    starting anything: prints "ok" and a summary, or one line per problem (exit 2)."""
    config = load(ctx, machine=True, remember=True)
    out.print(f"ok: {config_path(ctx)}: {render.summary(config)}", markup=False)


@app.command()
def up(ctx: typer.Context, names: list[str] | None = typer.Argument(None, help="Agents/services to start (default: all enabled).")) -> None:
    """Start enabled agents and services that are not running; running ones are left alone.

    Ctrl-C half-way stops again what this `up` had started (exit 130): no half-started team is
    left without its watchdog.
    """
    proj = project(ctx, machine=True)
    try:
        with err.status("starting…") as spinner:
            outcomes = proj.up(names or (), progress=lambda msg: spinner.update(msg))
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        _interrupted_up(proj)
    out.print(render.outcome_table(outcomes))
    if proj.sandboxed:
        out.print(sandbox_note(proj.sandboxed), markup=False)
    # Stopped by `down NAME` earlier — whether or not the watchdog has applied that pause yet —
    # and started or running now: supervised again.
    paused = paused_after_requests(proj.log_dir)
    for o in outcomes:
        if o.name in paused and not o.failed and o.action not in ("disabled", "waiting"):
            request_watchdog(proj.log_dir, "resume", o.name)
    if any(o.failed for o in outcomes):
        raise typer.Exit(EXIT_FAILURE)


def _interrupted_up(proj: Project) -> NoReturn:
    """Ctrl-C during `up`: stop what it started (a second Ctrl-C cannot cut that short), say so."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stopped = proj.rollback_up()
    finally:
        signal.signal(signal.SIGINT, previous)
    done = [o.name for o in stopped if o.action == "stopped"]
    err.print("interrupted: " + (f"stopped again what this `up` had started ({', '.join(done)}); " if done else "nothing had been started; ")
              + "what was running before is untouched", markup=False)
    for o in stopped:
        if o.failed:
            err.print(f"{o.name}: could not stop {o.session}: {o.detail}", markup=False)
    raise typer.Exit(EXIT_INTERRUPTED)


@app.command()
def down(ctx: typer.Context, names: list[str] | None = typer.Argument(None, help="Agents/services to stop (default: all).")) -> None:
    """Stop agents and services (kills their sessions). Idempotent. Works on the last good config
    while agents.toml does not validate."""
    proj = common.project_readonly(ctx)
    try:
        outcomes = proj.down(names or ())
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    out.print(render.outcome_table(outcomes))
    stopped = [o.name for o in outcomes if o.action not in ("skipped", "failed") and o.name in (names or ())]
    for name in stopped:  # the running watchdog would otherwise heal what was just stopped
        request_watchdog(proj.log_dir, "pause", name)
    if stopped:
        out.print(f"the watchdog leaves {', '.join(stopped)} stopped until `agents up {' '.join(stopped)}`", markup=False)


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the same facts as JSON."),
    why: str | None = typer.Option(None, "--why", metavar="NAME", help="Explain the watchdog's verdict on one agent: what each witness said, and when."),
    watch: bool = typer.Option(False, "--watch", "-w", help="A live dashboard (agents, phase, last events) until Ctrl-C."),
    seconds: float | None = typer.Option(None, "--for", hidden=True, min=0, help="--watch: stop after this many seconds (tests)."),
    frames: int | None = typer.Option(None, "--frames", hidden=True, min=1, help="--watch: stop after this many frames (tests)."),
) -> None:
    """Show every agent and service and its state (starts nothing). Works on the last good config
    while agents.toml does not validate."""
    proj = common.project_readonly(ctx)
    if why is not None:
        if proj.config.agent(why) is None:
            fail(f"{why}: no such agent (agents: {', '.join(a.name for a in proj.config.agents) or 'none'})", EXIT_USAGE)
        for line in explain(proj.log_dir, why, time.time()):
            out.print(line, markup=False)
        return
    if watch:
        from agent_orchestrator.cli.dashboard import run_dashboard

        run_dashboard(proj, out, seconds=seconds, frames=frames)
        return
    panes = proj.runtime.observe()
    doing = truths(proj.log_dir)
    held = held_states(proj.log_dir)
    queued = outboxes(proj.log_dir, time.time())
    rows = [render.with_held(r, held.get(r.name)) for r in proj.status(panes)] + [proj.watchdog_status(panes)]
    flags = watchers_cli.open_flags(proj.config)
    info = watchdog_info(proj.log_dir, proj.config.watchdog_session)
    server = proj.config.defaults.tmux_socket or "default tmux server"
    budget = load_state(proj.log_dir).budget  # token budgets as the last tick saw them
    budget_cfg = proj.config.watchdog.token_budget
    budget_notes = budget_lines(budget, budget_cfg.warn if budget_cfg is not None else 1.0)
    if as_json:
        payload = {
            "config": str(proj.config.path),
            "session_prefix": proj.config.defaults.session_prefix,
            "tmux_socket": proj.config.defaults.tmux_socket,
            "agents": [{**r.to_dict(), "held": held[r.name].detail if r.name in held else None,
                        **({"doing": doing[r.name].state, "source": doing[r.name].source} if r.name in doing else {}),
                        **({"queued": [q.to_dict() for q in queued.get(r.name, ())]} if proj.config.agent(r.name) is not None else {}),
                        **({"open_flags": flags[r.name]} if flags and r.name in flags else {})} for r in rows],
            "watchdog": info,
            "unreachable": proj.unreachable(),  # [[host]] → why it did not answer
            "budget": {"used": dict(budget.used), "limits": dict(budget.limits), "held": budget.held or None,
                       "held_agents": list(budget.held_agents), "notes": budget_notes},
        }
        out.print_json(json.dumps(payload))
        return
    out.print(f"[bold]{proj.config.path}[/bold] — {render.summary(proj.config)} — tmux: {server}")
    out.print(render.status_table(proj.config, rows, flags=flags, doing=doing, queued=queued))
    for line in render.status_notes(rows, held, queued):
        out.print(line, markup=False)
    for host, reason in sorted(proj.unreachable().items()):
        on = ", ".join(r.name for r in rows if r.host == host)
        out.print(f"host {host} unreachable ({reason}): {on or 'no agents'} unknown until it answers", markup=False)
    for line in budget_notes:
        out.print(line, markup=False)
    note = supervision_note(info, time.time())
    if note:
        out.print(note, markup=False)
    if info.get("config_error") and not common.fell_back(ctx):
        err.print("the watchdog is running on the last good config; agents.toml does not validate:", style="bold red")
        err.print(info["config_error"], markup=False)


@app.command()
def attach(ctx: typer.Context, name: str = typer.Argument(..., help="Agent or service to attach to.")) -> None:
    """Attach this terminal to the agent's tmux session (exact target, right server). Works on the
    last good config while agents.toml does not validate."""
    proj = common.project_readonly(ctx)
    try:
        unit = proj.select([name])[0]
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    session = unit.session or ""
    owner = proj.runtime.owner_of(session)
    if owner is not None:
        fail(f"{name}: not attaching: {ForeignSession(session, owner)}")
    try:
        running = proj.runtime.has_session(session)
    except TmuxError as exc:  # a [[host]] that does not answer
        fail(f"{name}: not attaching: {exc}")
    if not running:
        fail(f"{name} is not running (session {session}); start it with `agents up {name}`")
    remote = proj.config.host_of(unit) is not None
    inside_same_server = os.environ.get("TMUX") and not proj.config.defaults.tmux_socket and not remote
    argv = [*proj.runtime.base_argv(), "switch-client", "-t", f"={session}"] if inside_same_server else proj.attach_argv(unit)
    os.execvp(argv[0], argv)


@app.command()
def send(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent to send to."),
    text: str | None = typer.Argument(None, help="The message (or use --file)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Read the message from this file ('-' = stdin)."),
    now: bool = typer.Option(False, "--now", help="Paste and submit at once, even into a busy turn (no outbox)."),
) -> None:
    """Give an agent a message: through its outbox (delivered when its turn ends, confirmed by the
    CLI), or with --now pasted and submitted at once. With no watchdog running it goes at once."""
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
        unit = proj.select([name])[0]
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    if proj.config.agent(name) is None:
        fail(f"{name} is a service; only agents take messages", EXIT_USAGE)
    owner = proj.runtime.owner_of(unit.session or "")
    if owner is not None:
        fail(f"{name}: not sent: {ForeignSession(unit.session or '', owner)}")
    holder = lock_holder(proj.log_dir)
    if not now and holder is not None:
        request_watchdog(proj.log_dir, "send", unit.name, text=text, kind="send", why="agents send")
        out.print(f"queued for {name}: the watchdog (pid {holder}) delivers it when {name}'s turn ends "
                  f"(`agents status --why {name}` shows its outbox; --now pastes at once)", markup=False)
        return
    result = proj.send(name, text)
    if not result.ok:
        fail(f"{name}: not delivered: {result.reason}")
    how = f", confirmed by {result.confirmed_by}" if result.confirmed_by else ""
    out.print(f"delivered to {name}" + (f" (after {result.attempts} submits{how})" if result.attempts > 1 else f" ({how[2:]})" if how else ""))


@app.command()
def logs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Agent or service."),
    lines: int = typer.Option(40, "-n", "--lines", min=1, help="How many rows (scrollback included)."),
) -> None:
    """Print the recent screen of an agent's pane. Works on the last good config while agents.toml
    does not validate."""
    proj = common.project_readonly(ctx)
    try:
        rows = proj.logs(name, lines)
    except UnknownNameError as exc:
        fail(str(exc), EXIT_USAGE)
    except ForeignSession as exc:
        fail(f"{name}: not shown: {exc}")
    except HostUnreachable as exc:
        fail(f"{name}: not shown: {exc}")
    except TmuxError:
        fail(f"{name} is not running; nothing to show")
    for row in rows:
        out.print(row, markup=False, highlight=False, soft_wrap=True)


@app.command()
def watchdog(ctx: typer.Context, once: bool = typer.Option(False, "--once", help="One tick, then exit (tests, debugging)."),
             lock_wait: float = typer.Option(0.0, "--lock-wait", help="Seconds to wait for a watchdog that is going away to drop the "
                                             "project lock (`up` passes 5: its launcher restarts a killed watchdog).")) -> None:
    """Run the watchdog in the foreground (`up` runs it in its own session)."""
    from agent_orchestrator.watchdog.driver import Watchdog
    from agent_orchestrator.watchdog.lock import LockHeld

    common.load_readonly(ctx)  # refuses (exit 2) when neither the file nor a last good copy validates
    try:  # the Watchdog remembers the file as the last good config, unless it defers its edit (identity_changes)
        Watchdog(config_path(ctx)).run(once=once, lock_wait=lock_wait)
    except LockHeld as exc:
        fail(str(exc))
    except ConfigError as exc:
        for line in exc.lines:
            err.print(line, markup=False)
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def restart(ctx: typer.Context, name: str = typer.Argument(..., help="Agent or service to restart.")) -> None:
    """Restart an agent fresh with its kickoff; clears a needs-human hold of the watchdog."""
    proj = project(ctx, machine=True)
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
    out.print(f"next: make the loop's clones {directory / 'work'} and {directory / 'review'} (`git clone <origin> …`; `validate` "
              f"names any folder still missing), edit {directory / 'agents.toml'}, then `agents --config {directory / 'agents.toml'} validate`",
              markup=False)


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
    """Console-script entry point. A missing tmux is one line (exit 1), not a traceback."""
    from libtmux.exc import TmuxCommandNotFound

    args = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    try:
        common.run_quietly_on_closed_pipe(lambda: app(args=args, prog_name="agents"))
    except TmuxCommandNotFound:
        err.print("agents: tmux is not installed or not on PATH; install it (e.g. `apt install tmux`, `brew install tmux`) "
                  "and run this again", markup=False)
        sys.exit(EXIT_FAILURE)
