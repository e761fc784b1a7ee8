"""`agents doctor`: facts about the machine and a config's agents, gathered without side effects.

`gather(config)` returns a frozen `Report`: the versions of tmux, git and node; the tested CLI
matrix and the selected pins; per backend used by an enabled agent its resolved CLI, `--version`
(run in a throwaway HOME), whether that version is in the matrix, whether the screen table fits
it, and whether hooks are on; per enabled agent the first-run state of its HOME (Claude Code's
`.claude.json`, Codex's `config.toml`) and its hook settings layer; when running as root, which
claude agents get IS_SANDBOX=1. Judgements are `Finding`s (ok, info, warn, error); the report is
fine when there is no error. Nothing is started and nothing is written (the CLI only prints).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.agents.launch import build_launch
from agent_orchestrator.config.schema import AgentConfig, BackendConfig, Config
from agent_orchestrator.runtime import clis
from agent_orchestrator.runtime.project import SKIP_PERMISSIONS, needs_sandbox_env
from agent_orchestrator.transcripts.discovery import agent_home

LEVELS = ("ok", "info", "warn", "error")
VERSION_TIMEOUT = 30.0  # seconds for one `--version`


@dataclass(frozen=True)
class Finding:
    """One judgement: `level` (ok, info, warn, error), what it is about, and what to know or do."""

    level: str
    subject: str
    message: str


@dataclass(frozen=True)
class Tool:
    """A program the orchestrator needs: where it is and the version it reports (None: missing)."""

    name: str
    path: str | None
    version: str | None
    output: str = ""


@dataclass(frozen=True)
class Pin:
    """One row of the tested matrix and the version this run selects (AO_CLI_PINS, AO_<CLI>_VERSION)."""

    cli: str
    package: str
    current: str
    previous: str
    selected: str | None
    pinned_path: str | None  # the copy `find_cli` would use for the selected version, if there is one


@dataclass(frozen=True)
class Backend:
    """A backend used by enabled agents: its CLI as resolved and the version it reports.

    `cli` is the matrix name (its `screen`, else its name); `tested` is () for a backend the
    matrix does not know, whose version is not probed. `matrix_column` is "current",
    "previous" or None. `screen_table` is the screen table the backend reads screens with and
    `screen_table_wanted` the one for the reported version.
    """

    name: str
    cli: str
    bin: str
    path: str | None
    version: str | None
    version_output: str
    version_error: str
    tested: tuple[str, ...]
    matrix_column: str | None
    screen_version: str
    screen_table: str | None
    screen_table_wanted: str | None
    hooks: bool
    agents: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    """One first-run key of an agent's HOME: `ok` when it is as the CLI needs it to skip a screen."""

    key: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Agent:
    """An enabled agent: its HOME, the CLI state file there and its checks, and its hooks."""

    name: str
    backend: str
    cli: str
    dir: str
    home: str
    scratch: bool
    state_file: str | None
    state_exists: bool
    checks: tuple[Check, ...]
    hooks: bool
    hook_settings: str | None
    hook_settings_exists: bool | None
    is_sandbox: str | None  # root + --dangerously-skip-permissions: "auto" (up sets 1) or the configured value


@dataclass(frozen=True)
class Report:
    """Everything `doctor` found; `ok` when no finding is an error."""

    config: str
    euid: int
    pins_choice: str
    tools: tuple[Tool, ...]
    matrix: tuple[Pin, ...]
    backends: tuple[Backend, ...]
    agents: tuple[Agent, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def count(self, level: str) -> int:
        return sum(f.level == level for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready facts (with `ok`)."""
        return {"ok": self.ok, **asdict(self)}


Run = Callable[[list[str]], tuple[int, str]]  # argv -> (exit status, stdout+stderr); raises OSError


def _run(argv: list[str]) -> tuple[int, str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    return done.returncode, (done.stdout.strip() or done.stderr.strip())


def tool(name: str, version_args: list[str], *, env: Mapping[str, str], run: Run = _run) -> Tool:
    """`name` on PATH and the first line of `name <version_args>` (tmux -V, git --version, node --version)."""
    path = shutil.which(name, path=env.get("PATH"))
    if path is None:
        return Tool(name, None, None)
    try:
        code, text = run([path, *version_args])
    except (OSError, subprocess.SubprocessError) as exc:
        return Tool(name, path, None, str(exc))
    first = text.splitlines()[0] if text else ""
    version = clis.parse_version(first) or (first.split()[-1] if first and code == 0 else None)
    if first.startswith("v") and version and f"v{version}" in first:  # node prints v20.20.2
        version = f"v{version}"
    return Tool(name, path, version, first)


def _agent_env(backend: BackendConfig, agent: AgentConfig) -> dict[str, str]:
    return {**backend.env, **agent.env}


def _inherited(config_env: Mapping[str, str], key: str, env: Mapping[str, str]) -> str | None:
    """`key` as the agent's process sees it: its configured env, else the inherited one."""
    return config_env.get(key) or env.get(key) or None


def resolve_bin(bin_: str, cwd: Path, path_env: str | None) -> str | None:
    """Where `bin_` is for a launch in `cwd`: a path (relative to `cwd`) or a PATH lookup."""
    if "/" in bin_:
        p = Path(bin_).expanduser()
        p = p if p.is_absolute() else cwd / p
        return str(p) if p.is_file() and os.access(p, os.X_OK) else None
    return shutil.which(bin_, path=path_env)


def _screen_tables(backend: BackendConfig, version: str | None) -> tuple[str | None, str | None]:
    from agent_orchestrator.screen.patterns import table_for

    if not backend.screen:
        return None, None
    try:
        used = table_for(backend.screen, backend.screen_version)
        wanted = table_for(backend.screen, version) if version else None
    except ValueError:
        return None, None
    return (used.version if used else None), (wanted.version if wanted else None)


def _table_at(data: Any, key: str) -> dict[str, Any]:
    """`data[key]` when both are tables (JSON objects), else {}."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _claude_checks(home: Path, directory: str, agent_env: Mapping[str, str],
                   env: Mapping[str, str]) -> tuple[Path, bool, tuple[Check, ...]]:
    config_dir = _inherited(agent_env, "CLAUDE_CONFIG_DIR", env)
    path = (Path(config_dir) if config_dir else home) / ".claude.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        exists = True
    except FileNotFoundError:
        data, exists = {}, False
    except (OSError, ValueError) as exc:
        return path, True, (Check("hasCompletedOnboarding", False, f"unreadable: {exc}"),)
    data = data if isinstance(data, dict) else {}
    project = _table_at(_table_at(data, "projects"), directory)
    checks = [
        Check("hasCompletedOnboarding", data.get("hasCompletedOnboarding") is True),
        Check(f"projects.{directory}.hasTrustDialogAccepted", project.get("hasTrustDialogAccepted") is True),
    ]
    key = _inherited(agent_env, "ANTHROPIC_API_KEY", env)
    if key:
        approved = _table_at(data, "customApiKeyResponses").get("approved")
        approved = approved if isinstance(approved, list) else []
        checks.append(Check("customApiKeyResponses.approved", key[-20:] in approved, f"…{key[-4:]} (last 20 chars of ANTHROPIC_API_KEY)"))
    return path, exists, tuple(checks)


def _codex_checks(home: Path, directory: str, agent_env: Mapping[str, str], env: Mapping[str, str],
                  scratch: bool) -> tuple[Path, bool, tuple[Check, ...]]:
    codex_home = home / ".codex" if scratch else Path(_inherited(agent_env, "CODEX_HOME", env) or home / ".codex")
    path = codex_home / "config.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        exists = True
    except FileNotFoundError:
        data, exists = {}, False
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return path, True, (Check(f'projects."{directory}".trust_level', False, f"unreadable: {exc}"),)
    level = _table_at(_table_at(data, "projects"), directory).get("trust_level")
    return path, exists, (Check(f'projects."{directory}".trust_level', level == "trusted", str(level) if level else "unset"),)


def _claude_settings_path(log_dir: Path, agent: str) -> Path:
    # The settings layer agents.hooks.claude_settings writes (and passes with --settings) at launch.
    return Path(log_dir) / "hooks" / f"{agent}.claude-settings.json"


def gather(config: Config, *, env: Mapping[str, str] | None = None, euid: int | None = None, run: Run = _run,
           probe: Callable[[str], clis.Probe] | None = None, matrix: Mapping[str, clis.CliPin] | None = None) -> Report:
    """The doctor's report for `config` (see the module docstring). `env`, `euid`, `run` (tool
    versions), `probe` (agent CLI versions) and `matrix` are injectable for tests.

    Raises clis.MatrixError when the matrix file or a version selection (AO_CLI_PINS,
    AO_<CLI>_VERSION) is invalid.
    """
    env = os.environ if env is None else env
    euid = os.geteuid() if euid is None else euid
    probe = probe or (lambda path: clis.probe_version(path, timeout=VERSION_TIMEOUT, env=env))
    matrix = clis.load_matrix() if matrix is None else matrix
    findings: list[Finding] = []

    enabled = [a for a in config.agents if a.enabled and config.host_of(a) is None]
    for host in config.hosts:  # their CLIs and HOMEs are on that machine: its launcher says what is missing there
        there = [a.name for a in config.agents if a.enabled and a.host == host.name]
        if there:
            findings.append(Finding("info", f"host {host.name}", f"{', '.join(there)} run on {host.ssh}: not checked from here"))
    used: dict[str, list[AgentConfig]] = {}
    for agent in enabled:
        used.setdefault(config.backend_of(agent).name, []).append(agent)
    clis_used = {config.backends[name].screen or name for name in used}

    # -- tools ----------------------------------------------------------------------------
    tools = (tool("tmux", ["-V"], env=env, run=run), tool("git", ["--version"], env=env, run=run),
             tool("node", ["--version"], env=env, run=run))
    for t in tools:
        if t.path is None:
            if t.name == "node":
                level = "error" if "codex" in clis_used else "warn"
                why = "the Codex CLI is a node launcher" if level == "error" else "npm needs it to install the pinned CLIs"
                findings.append(Finding(level, "node", f"node is not on PATH ({why})"))
            else:
                findings.append(Finding("error", t.name, f"{t.name} is not on PATH"))
        elif t.version is None:
            findings.append(Finding("warn", t.name, f"{t.path}: could not read its version ({t.output or 'no output'})"))

    # -- matrix -----------------------------------------------------------------------------
    pins = []
    for pin in matrix.values():
        selected = clis.selected_version(pin, env)
        pinned = clis.pinned_bin(pin, selected, clis.cache_dir(env))
        pins.append(Pin(pin.cli, pin.package, pin.current, pin.previous, selected,
                        str(pinned) if os.access(pinned, os.X_OK) else None))
        if selected not in pin.versions:
            findings.append(Finding("warn", pin.cli, f"the selected {pin.cli} {selected} is not in the tested matrix "
                                    f"({', '.join(pin.versions)})"))
    pins_by_cli = {p.cli: p for p in pins}

    # -- backends ---------------------------------------------------------------------------
    backends = []
    for name, agents in used.items():
        backend = config.backends[name]
        cli = backend.screen or name
        first = agents[0]
        cwd = Path(first.dir or config.root)
        path = resolve_bin(backend.bin, cwd, _inherited(_agent_env(backend, first), "PATH", env))
        known = matrix.get(cli)
        version = output = error = None
        if known is not None and path is not None:
            result = probe(path)
            version, output, error = result.version, result.output, result.error
        column = known.column(version) if known is not None else None
        used_table, wanted_table = _screen_tables(backend, version)
        hooks = bool(getattr(backend, "hooks", False))
        backends.append(Backend(name=name, cli=cli, bin=backend.bin, path=path, version=version, version_output=output or "",
                                version_error=error or "", tested=known.versions if known else (), matrix_column=column,
                                screen_version=backend.screen_version, screen_table=used_table,
                                screen_table_wanted=wanted_table, hooks=hooks, agents=tuple(a.name for a in agents)))
        who = f"backend {name}"
        if path is None:
            hint = ""
            row = pins_by_cli.get(cli)
            if row and row.pinned_path:
                hint = (f"; the pinned {cli} {row.selected} is at {row.pinned_path}: put its folder on PATH or set "
                        f'bin = "{row.pinned_path}" in [backend.{name}] (`agents rehearse run` uses it by itself)')
            elif known is not None:
                hint = f"; scripts/ensure-{cli}.sh installs the pinned {cli}"
            findings.append(Finding("error", who, f"{backend.bin!r} not found" + (" on PATH" if "/" not in backend.bin else "") + hint))
            continue
        if known is None:
            continue
        if version is None:
            findings.append(Finding("error", who, f"{path} --version: {error or 'no version in its output'}"
                                    + (f" ({output})" if output else "")))
            continue
        if column is None:
            findings.append(Finding("warn", who, f"{cli} {version} is not in the tested matrix "
                                    f"({known.current} current, {known.previous} previous)"))
        else:
            findings.append(Finding("ok", who, f"{cli} {version} ({column} pin of the tested matrix)"))
        if used_table and wanted_table and used_table != wanted_table:
            setting = f'screen_version = "{backend.screen_version}"' if backend.screen_version else 'screen_version = "" (the newest)'
            findings.append(Finding("warn", who, f"screens are read with the {used_table} table ({setting}) but the CLI is "
                                    f'{version}: set screen_version = "{version}" in [backend.{name}]'))

    # -- agents -----------------------------------------------------------------------------
    agents_out = []
    sandbox_auto: list[str] = []
    scratch_pending: list[str] = []
    settings_pending: list[str] = []
    for agent in enabled:
        backend = config.backend_of(agent)
        cli = backend.screen or backend.name
        agent_env = _agent_env(backend, agent)
        directory = str(Path(agent.dir or config.root).resolve())
        home = agent_home(config, agent)
        scratch = backend.home == "scratch"
        state_file: Path | None = None
        exists = False
        checks: tuple[Check, ...] = ()
        if cli == "claude":
            state_file, exists, checks = _claude_checks(home, directory, agent_env, env)
        elif cli == "codex":
            state_file, exists, checks = _codex_checks(home, directory, agent_env, env, scratch)
        hooks = bool(getattr(backend, "hooks", False))
        settings = _claude_settings_path(config.defaults.log_dir, agent.name) if cli == "claude" else None
        settings_exists = settings.is_file() if settings is not None else None
        is_sandbox = None
        if euid == 0 and backend.screen == "claude":
            argv = build_launch(agent, backend, None, Path(os.devnull), resume=agent.resume).argv
            if SKIP_PERMISSIONS in argv:
                is_sandbox = "auto" if needs_sandbox_env(backend, argv, agent_env, euid) else agent_env["IS_SANDBOX"]
        agents_out.append(Agent(name=agent.name, backend=backend.name, cli=cli, dir=directory, home=str(home), scratch=scratch,
                                state_file=str(state_file) if state_file else None, state_exists=exists, checks=checks,
                                hooks=hooks, hook_settings=str(settings) if settings else None,
                                hook_settings_exists=settings_exists, is_sandbox=is_sandbox))
        who = f"agent {agent.name}"
        missing = [c.key for c in checks if not c.ok]
        if state_file is not None and missing:
            if scratch:
                scratch_pending.append(agent.name)
            else:
                what = "missing" if not exists else "not set: " + ", ".join(missing)
                findings.append(Finding("warn", who, f"{state_file} {what}: its first start shows {cli}'s first-run screens "
                                        "(the watchdog answers the trust, API-key and bypass dialogs; onboarding/login needs you)"))
        elif state_file is not None:
            findings.append(Finding("ok", who, f"{state_file} has the first-run keys ({', '.join(c.key for c in checks)})"))
        if hooks and settings is not None and not settings_exists:
            settings_pending.append(agent.name)
        if not hooks and settings_exists:
            findings.append(Finding("info", who, f"hooks off, but {settings} is left from an earlier run"))
        if is_sandbox == "auto":
            sandbox_auto.append(agent.name)
        elif is_sandbox is not None and is_sandbox != "1":
            findings.append(Finding("warn", who, f"running as root with {SKIP_PERMISSIONS} but the config sets IS_SANDBOX={is_sandbox}: "
                                    "Claude Code refuses that flag as root unless IS_SANDBOX=1"))
    if scratch_pending:
        findings.append(Finding("info", "agents", "scratch HOMEs not prepared yet (`up` prepares them): "
                                + ", ".join(scratch_pending)))
    if settings_pending:
        findings.append(Finding("info", "agents", "hooks on; their Claude Code settings layers are written at `up`: "
                                + ", ".join(settings_pending)))
    if sandbox_auto:
        noun = "agent" if len(sandbox_auto) == 1 else "agents"
        findings.append(Finding("info", "root", f"running as root: `agents up` sets IS_SANDBOX=1 for claude {noun} "
                                f"{', '.join(sandbox_auto)} (needed for {SKIP_PERMISSIONS})"))
    configured = [a.name for a in agents_out if a.is_sandbox == "1"]
    if configured:
        findings.append(Finding("ok", "root", f"running as root: IS_SANDBOX=1 is set in the config for {', '.join(configured)}"))

    choice = env.get("AO_CLI_PINS") or "current"
    return Report(config=str(config.path), euid=euid, pins_choice=choice, tools=tools, matrix=tuple(pins),
                  backends=tuple(backends), agents=tuple(agents_out), findings=tuple(findings))
