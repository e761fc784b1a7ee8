"""Run an example end to end in a sandbox: the real agent CLI against the scripted model.

`run_rehearsal(example)` copies the example folder into a temp dir, runs its `setup.sh`, points
its agents.toml at a private tmux socket, a unique session prefix and a free port for the model
server, brings the team up (watchdog included), waits for the end state, collects status, phase
and token reports, then tears everything down and checks nothing is left — also on failure.

Agents can run on other machines (`hosts` + `placement`): each placed agent or service gets
`host = "<name>"` and its `dir` made absolute, each host a private tmux server and a log_dir in
the sandbox (by default; the same path on that machine), where its agents' scratch HOMEs are
prepared. Everything on a host is stopped and its ssh master connection closed at the end.

End state: with a `[loop]`, SEQUENCE-COMPLETE and (if configured) the on_complete task having
finished a turn; and, when the example has a `rehearsal.toml` with `done_file = "<path>"`
(relative to the example folder), that file existing — the only condition for a team without a
phase machine. `rehearsal.toml` may also set `timeout` (seconds).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime import clis
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Outcome, Project, UnitStatus
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state

_LOCAL_URL = re.compile(r"(https?://127\.0\.0\.1:)\d+")
_COPY_IGNORE = shutil.ignore_patterns("run", "origin.git", "work", "review", "report", "__pycache__", ".agents-run")


class RehearsalError(RuntimeError):
    """The rehearsal could not be set up (bad example folder, setup failed, no agent CLI)."""


@dataclass
class RehearsalResult:
    """What a rehearsal did: `ok`, `reason` when not, the reports, and how long it took (s)."""

    ok: bool
    reason: str
    elapsed: float
    sandbox: Path
    status: list[UnitStatus] = field(default_factory=list)
    phase: dict[str, Any] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    up: list[Outcome] = field(default_factory=list)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _repoint(value: Any, port: int) -> Any:
    """Every 127.0.0.1 URL and `--port N` in the config, moved to `port`."""
    if isinstance(value, dict):
        return {k: _repoint(v, port) for k, v in value.items()}
    if isinstance(value, list):
        out = [_repoint(v, port) for v in value]
        for i, item in enumerate(out[:-1]):
            if item == "--port":
                out[i + 1] = str(port)
        return out
    if isinstance(value, str):
        return _LOCAL_URL.sub(lambda m: f"{m.group(1)}{port}", value)
    return value


def sandbox_config(path: Path, *, socket_name: str, prefix: str, port: int, bins: dict[str, str],
                   hosts: Mapping[str, Mapping[str, Any]] | None = None, placement: Mapping[str, str] | None = None) -> None:
    """Rewrite the copied agents.toml in place for an isolated run; `hosts` become `[[host]]`
    tables (name → table without its name) and each unit in `placement` (name → host) is put on
    its host with its `dir` made absolute (resolved against the copy's folder).

    Raises RehearsalError for a placement naming an unknown unit or host."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    raw = _repoint(raw, port)
    raw.setdefault("defaults", {}).update(tmux_socket=socket_name, session_prefix=prefix)
    for name, binary in bins.items():
        raw.setdefault("backend", {}).setdefault(name, {})["bin"] = binary
    if hosts:
        raw["host"] = [*raw.get("host", []), *({"name": name, **dict(table)} for name, table in hosts.items())]
    units = {u.get("name"): u for u in (*raw.get("agent", []), *raw.get("service", []))}
    known = {h.get("name") for h in raw.get("host", [])}
    for unit_name, host in (placement or {}).items():
        if unit_name not in units or host not in known:
            raise RehearsalError(f"placement {unit_name}={host}: no such " + ("agent or service" if unit_name not in units else "host"))
        unit = units[unit_name]
        unit["host"] = host
        unit["dir"] = str((path.parent / unit.get("dir", raw.get("defaults", {}).get("dir", "."))).resolve())
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")


def find_cli(name: str, repo_root: Path | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """An agent CLI (`claude`, `codex`) at the selected version of the tested matrix
    (data/cli-versions.toml; current unless AO_CLI_PINS / AO_<NAME>_VERSION say otherwise): PATH's
    when it is that version, else the pinned copy scripts/ensure-<name>.sh installs into
    .cache/cli/<package>@<version>/, else None (see `runtime.clis.find_cli`)."""
    return clis.find_cli(name, repo_root, env)


def find_claude(repo_root: Path | None = None) -> str | None:
    """The Claude Code CLI (see `find_cli`)."""
    return find_cli("claude", repo_root)


def _leftovers(sandbox: Path, runtime: TmuxRuntime) -> list[str]:
    found = [f"tmux session {name}" for name in runtime.observe()]
    needle = str(sandbox).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if needle in cmdline or cwd.startswith(str(sandbox)):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
            found.append(f"process {proc.name}: {shown}")
    return found


def _remove_cli_temp(sandbox: Path) -> None:
    """Remove what the agent CLIs kept in the system temp dir for folders of the sandbox.

    Claude Code (2.1.197 and 2.1.332) writes tool output under `$TMPDIR/claude-<uid>/<cwd slug>/`,
    the slug being the working directory with every character outside `[A-Za-z0-9]` replaced by
    `-` (`transcripts.discovery.claude_slug`: a sandbox named `…-euj4u3_8` is `…-euj4u3-8`).
    """
    from agent_orchestrator.transcripts.discovery import claude_slug

    root = Path(tempfile.gettempdir()) / f"claude-{os.getuid()}"
    slug = claude_slug(sandbox)
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name == slug or entry.name.startswith(slug + "-"):
            shutil.rmtree(entry, ignore_errors=True)


def rehearsal_settings(example: Path) -> dict[str, Any]:
    """The example's optional `rehearsal.toml` (`done_file`, `timeout`); {} when absent.

    Raises RehearsalError naming the file and key for anything else in it.
    """
    path = example / "rehearsal.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RehearsalError(f"{path}: invalid TOML: {exc}") from None
    for key, value in data.items():
        if key == "done_file" and isinstance(value, str) and value:
            continue
        if key == "timeout" and isinstance(value, (int, float)) and value > 0:
            continue
        raise RehearsalError(f'{path}: {key}: expected done_file = "<path>" or timeout = <seconds>, got {value!r}')
    return data


def _stop_hosts(project: Project) -> None:
    """Stop the hosts' private tmux servers (whatever a failed `down` left there) and close their
    ssh master connections; a host that does not answer is left as it is."""
    assert project.hosts is not None
    for remote in project.hosts.remotes.values():
        try:
            remote.kill_server()
        except TmuxError:
            pass
        remote.transport.close()


def _recorded(project: Project, phase_id: str) -> bool:
    from agent_orchestrator.tokens.ledger import read_ledger

    return any(r.get("phase_id") == phase_id for r in read_ledger(project.log_dir))


def _end_state(project: Project, started: float, done_file: Path | None = None) -> tuple[bool, str]:
    """(reached, what is still awaited) of the example's end state."""
    config = project.config
    state = load_state(project.log_dir)
    if done_file is not None and not done_file.exists():
        return False, f"waiting for {done_file.name}"
    if config.loop is None:
        return (True, f"{done_file.name} written") if done_file is not None else (False, "no [loop] and no done_file")
    ph = state.phase
    phase_id = config.loop.phases[min(ph.index, len(config.loop.phases) - 1)].id
    if not ph.complete:
        return False, f"phase {phase_id} ({ph.index + 1}/{len(config.loop.phases)})"
    if config.loop.on_complete is None:
        return True, "SEQUENCE-COMPLETE"
    task = config.loop.on_complete.run
    if ph.on_complete != "started":
        return False, f"SEQUENCE-COMPLETE; on_complete {task} due"
    facts = state.agent(task).facts
    finished = facts is not None and facts.state in ("done_idle", "waiting_until") and facts.captured_at > (ph.completed_at or started)
    if finished and config.watchdog.log_tokens and not _recorded(project, phase_id):
        return False, f"SEQUENCE-COMPLETE; waiting for the token record of {phase_id}"
    if finished:
        return True, f"SEQUENCE-COMPLETE; on_complete {task} ran"
    return False, f"SEQUENCE-COMPLETE; waiting for {task} to finish its turn"


def run_rehearsal(
    example: Path,
    *,
    timeout: float = 300.0,
    keep: bool = False,
    claude: str | None = None,
    progress: Callable[[str], None] = print,
    during: Callable[[Project], Callable[[], None]] | None = None,
    hosts: Mapping[str, Mapping[str, Any]] | None = None,
    placement: Mapping[str, str] | None = None,
    changes: Callable[[dict[str, Any]], None] | None = None,
) -> RehearsalResult:
    """Run `example` in a sandbox to its end state (or `timeout` seconds) and clean up.

    `during` (fault runs) is called with the project once the team is up and returns a function
    called when the end state is reached or the time is out, before the reports are collected.
    `hosts` (name → `[[host]]` table: `ssh`, `ssh_options`, `python`, `timeout`; `log_dir` and
    `tmux_socket` default to the sandbox's `host-<name>` folder and a private socket) and
    `placement` (agent or service → host) run part of the team on other machines.
    `changes` may edit the sandboxed config (the parsed TOML, in place) before the run.

    Raises RehearsalError when it cannot even start (no agents.toml, setup.sh failed, the
    Claude Code CLI is needed but missing). Everything after `up` ends in a RehearsalResult.
    """
    example = Path(example).resolve()
    if not (example / "agents.toml").is_file():
        raise RehearsalError(f"{example}: no agents.toml here")
    begin = time.monotonic()
    sandbox = Path(tempfile.mkdtemp(prefix="ao-rehearsal-"))
    work = sandbox / example.name
    token = secrets.token_hex(3)
    socket_name, prefix, port = f"ao-rehearsal-{token}", f"r{token}-", free_port()
    runtime = TmuxRuntime(socket_name)
    result = RehearsalResult(False, "", 0.0, work)
    host_tables = {name: {"log_dir": str(sandbox / f"host-{name}"), "tmux_socket": f"{socket_name}-{name}", **dict(table)}
                   for name, table in (hosts or {}).items()}
    project: Project | None = None
    try:
        shutil.copytree(example, work, ignore=_COPY_IGNORE)
        if (work / "setup.sh").exists():
            done = subprocess.run(["bash", "setup.sh"], cwd=work, capture_output=True, text=True)
            if done.returncode != 0:
                raise RehearsalError(f"{example.name}/setup.sh failed: {done.stderr.strip() or done.stdout.strip()}")
        bins: dict[str, str] = {}
        loaded = load_config(work / "agents.toml")
        used = {loaded.backend_of(a).screen for a in loaded.agents if a.enabled}
        for cli in ("claude", "codex"):
            if cli in used:
                try:
                    found = (claude if cli == "claude" else None) or find_cli(cli)
                except clis.MatrixError as exc:
                    raise RehearsalError(str(exc)) from None
                if found is None:
                    raise RehearsalError(f"the {cli} CLI is not installed at its pinned version: run scripts/ensure-{cli}.sh")
                bins[cli] = found
        sandbox_config(work / "agents.toml", socket_name=socket_name, prefix=prefix, port=port, bins=bins, hosts=host_tables,
                       placement=placement)
        if changes is not None:
            with (work / "agents.toml").open("rb") as fh:
                edited = tomllib.load(fh)
            changes(edited)
            (work / "agents.toml").write_text(tomli_w.dumps(edited), encoding="utf-8")
        settings = rehearsal_settings(work)
        done_file = work / settings["done_file"] if "done_file" in settings else None
        timeout = float(settings.get("timeout", timeout))
        project = Project(load_config(work / "agents.toml"), runtime)
        progress(f"sandbox {work} (tmux socket {socket_name}, model port {port})")
        result.up = project.up(progress=progress)
        failed = [o for o in result.up if o.failed]
        if failed:
            result.reason = "; ".join(f"{o.name}: {o.detail}" for o in failed)
            return result
        stop_during = during(project) if during is not None else None
        seen = 0
        started = time.time()
        while True:
            events = list(read_events(project.log_dir))
            for event in events[seen:]:
                progress(f"[{time.time() - started:5.0f}s] {event.get('agent') or '-'} {event['action']}: {event['reason']}")
            seen = len(events)
            reached, awaiting = _end_state(project, started, done_file)
            if reached:
                result.ok, result.reason = True, awaiting
                break
            if time.monotonic() - begin > timeout:
                result.reason = f"timed out after {timeout:g}s; still at: {awaiting}"
                break
            time.sleep(1.0)
        if stop_during is not None:
            stop_during()
        result.status = project.status()
        result.events = list(read_events(project.log_dir))
        from agent_orchestrator.tokens.ledger import read_ledger
        from agent_orchestrator.watchdog.phasectl import phase_info

        if project.config.loop is not None and project.config.loop.phases:
            result.phase = phase_info(project.config).to_dict()
        result.tokens = read_ledger(project.log_dir)
        project.down()
        return result
    finally:
        if project is not None and project.hosts is not None:
            _stop_hosts(project)
        runtime.kill_server()
        deadline = time.monotonic() + 10
        while (left := _leftovers(sandbox, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
        result.leftovers = left
        if left and result.ok:
            result.ok, result.reason = False, "left behind: " + "; ".join(left)
        if not keep:
            _remove_cli_temp(sandbox)
            shutil.rmtree(sandbox, ignore_errors=True)
            if sandbox.exists():  # something wrote into it after the leftover check: once more
                time.sleep(0.5)
                shutil.rmtree(sandbox, ignore_errors=True)
            if sandbox.exists():
                result.leftovers.append(f"folder {sandbox}")
                if result.ok:
                    result.ok, result.reason = False, f"left behind: folder {sandbox}"
        result.elapsed = time.monotonic() - begin
