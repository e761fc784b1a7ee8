"""Loading `agents.toml`: TOML parsing, preset merging, inheritance and cross-checks.

`load_config(path)` returns a `Config` or raises `ConfigError` whose `lines` are one-line
messages of the form ``<file>: <key path>: <what is wrong and what is expected>``.
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path
from typing import Any

from agent_orchestrator.config.fields import Context, build, show, suggest
from agent_orchestrator.config.presets import PRESETS, merge_backend
from agent_orchestrator.config.schema import (
    ISSUE_RUN_KEYS,
    LOCAL_HOST,
    NOTIFY_KINDS,
    WATCHER_KEYS,
    AgentConfig,
    BackendConfig,
    Config,
    DefaultsConfig,
    HostConfig,
    LoopConfig,
    NotifyConfig,
    ServiceConfig,
    WatchdogConfig,
    is_watcher_backend,
)
from agent_orchestrator.config.watcher_names import BUILTIN_WATCHERS, COMMAND, ISSUE_RUNS, is_entry_point
from agent_orchestrator.screen.patterns import OVERRIDABLE, TABLES, parse_version

TOP_LEVEL = ("watchdog", "defaults", "backend", "agent", "service", "loop", "notify", "host")
KICKOFF_SLOTS = ("phase_id", "plan", "status", "role", "done_marker", "state_dir")
# tmux turns "." and ":" in session names into "_" and ":" separates targets: keep names plain.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]*$")


class ConfigError(Exception):
    """A config that cannot be used; `lines` holds one message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_config(path: Path | str, *, text: str | None = None) -> Config:
    """Parse and validate the config at `path`.

    With `text`, that TOML is validated as if it were the file at `path` (relative paths resolve
    against the folder of `path`; the file itself is not read): how a saved last good copy is
    loaded (`config.lastgood`). The result keeps its TOML text in `Config.source`.

    Raises ConfigError listing every problem found (unknown keys with a "did you mean", missing
    required keys, wrong types and values, unknown backends and ping targets, duplicate names or
    sessions, regexes that do not compile, invalid TOML with line and column).
    """
    path = Path(path)
    shown = str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([f"{shown}: no such file (create one with `agents init DIR`, or pass --config PATH)"]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{shown}: cannot read: {exc}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{shown}: invalid TOML: {_toml_message(exc)}"]) from None
    ctx = Context(path.resolve().parent)
    config = _build(raw, path.resolve(), ctx)
    if ctx.problems:
        raise ConfigError([f"{shown}: {p.key}: {p.message}" for p in ctx.problems])
    config.source = text
    return config


def _toml_message(exc: tomllib.TOMLDecodeError) -> str:
    # Python 3.11's tomllib puts the position in the message: "... (at line 3, column 7)".
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)$", msg)
    if m:
        return f"line {m.group(1)}, column {m.group(2)}: {msg[: m.start()].strip()}"
    return msg


def _table(raw: dict[str, Any], key: str, ctx: Context) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        ctx.add(key, f"expected a table [{key}], got {show(value)}")
        return {}
    return value


def _build(raw: dict[str, Any], path: Path, ctx: Context) -> Config:
    for key in raw:
        if key not in TOP_LEVEL:
            ctx.add(key, f"unknown key{suggest(key, TOP_LEVEL)}")
    watchdog = build(WatchdogConfig, _table(raw, "watchdog", ctx), "watchdog", ctx)
    defaults = build(DefaultsConfig, _table(raw, "defaults", ctx), "defaults", ctx)
    if defaults.dir is None:
        defaults.dir = ctx.root
    if defaults.session_prefix is not None and not _PREFIX_RE.match(defaults.session_prefix):
        ctx.add("defaults.session_prefix", f"{show(defaults.session_prefix)} may only hold letters, digits, '-' and '_'")
    backends = _backends(_table(raw, "backend", ctx), ctx)
    hosts = [_host(t, i, ctx) for i, t in enumerate(_array(raw, "host", ctx))]
    agents = [_agent(t, i, defaults, backends, ctx) for i, t in enumerate(_array(raw, "agent", ctx))]
    services = [_service(t, i, defaults, ctx) for i, t in enumerate(_array(raw, "service", ctx))]
    loop = build(LoopConfig, raw["loop"], "loop", ctx) if isinstance(raw.get("loop"), dict) else None
    if "loop" in raw and not isinstance(raw["loop"], dict):
        ctx.add("loop", f"expected a table [loop], got {show(raw['loop'])}")
    notify = _notify(raw["notify"], ctx) if isinstance(raw.get("notify"), dict) else None
    if "notify" in raw and not isinstance(raw["notify"], dict):
        ctx.add("notify", f"expected a table [notify], got {show(raw['notify'])}")
    config = Config(path, watchdog, defaults, backends, agents, services, loop, notify, hosts=hosts)
    _cross_check(config, ctx)
    _check_hosts(config, raw, ctx)
    return config


def _host(table: dict[str, Any], i: int, ctx: Context) -> HostConfig:
    """`[[host]]`: a name agents can use, an ssh destination that cannot pass for an option, and
    an absolute log_dir on that machine (nothing expands `~` there: every path is quoted)."""
    key = f"host[{i}]"
    host: HostConfig = build(HostConfig, table, key, ctx)
    if isinstance(host.name, str):
        if host.name == LOCAL_HOST:
            ctx.add(f"{key}.name", f'"{LOCAL_HOST}" means this machine; give the host another name')
        elif not _NAME_RE.match(host.name):
            ctx.add(f"{key}.name", f"{show(host.name)} may only hold letters, digits, '-' and '_'")
    if isinstance(host.ssh, str) and (not host.ssh.strip() or host.ssh.startswith("-") or any(c.isspace() for c in host.ssh)):
        ctx.add(f"{key}.ssh", f'{show(host.ssh)} is not an ssh destination such as "me@gpu-box" (options go in ssh_options)')
    if isinstance(host.log_dir, str) and not host.log_dir.startswith("/"):
        ctx.add(f"{key}.log_dir", f"{show(host.log_dir)} is not an absolute path on that host (nothing expands ~ or relative paths there)")
    if isinstance(host.python, str) and not host.python.strip():
        ctx.add(f"{key}.python", 'expected a Python 3 executable on that host, e.g. "python3"')
    return host


def _check_hosts(config: Config, raw: dict[str, Any], ctx: Context) -> None:
    """Host names are unique; every `host = "<name>"` names one; a remote unit's dir is absolute
    (a path on that machine); watchers run next to the watchdog (they read its log_dir)."""
    seen: dict[str, int] = {}
    for i, host in enumerate(config.hosts):
        if isinstance(host.name, str) and host.name in seen:
            ctx.add(f"host[{i}].name", f"{show(host.name)} is already used by host[{seen[host.name]}]")
        seen.setdefault(host.name, i)
    known = [h.name for h in config.hosts if isinstance(h.name, str)]
    tables = {"agent": raw.get("agent"), "service": raw.get("service")}
    units: list[tuple[str, AgentConfig | ServiceConfig, dict[str, Any]]] = []
    groups: list[tuple[str, list[AgentConfig | ServiceConfig]]] = [("agent", list(config.agents)), ("service", list(config.services))]
    for kind, items in groups:
        found = tables[kind]
        raws: list[Any] = found if isinstance(found, list) else []
        for i, unit in enumerate(items):
            units.append((f"{kind}[{i}]", unit, raws[i] if i < len(raws) and isinstance(raws[i], dict) else {}))
    for key, unit, table in units:
        if unit.host is None or unit.host == LOCAL_HOST:
            continue
        if unit.host not in known:
            ctx.add(f"{key}.host", f"{show(unit.host)} names no [[host]] (hosts: {', '.join(known) or 'none'}; \"{LOCAL_HOST}\" is this machine)"
                    f"{suggest(unit.host, known)}")
            continue
        given = table.get("dir")
        if isinstance(given, str) and not given.startswith("/"):
            ctx.add(f"{key}.dir", f"{show(given)} is relative; on host {unit.host} give an absolute path")
        if isinstance(unit, AgentConfig) and config.is_watcher(unit):
            ctx.add(f"{key}.host", "a watcher agent runs on this machine, next to the watchdog whose log_dir it reads")


def _notify(table: dict[str, Any], ctx: Context) -> NotifyConfig:
    """`[notify]`: a command and/or a URL; known event kinds; an http(s) URL."""
    notify: NotifyConfig = build(NotifyConfig, table, "notify", ctx)
    if "cmd" not in table and "url" not in table:
        ctx.add("notify", 'give cmd (an argv list, e.g. ["./notify.sh"]) or url (e.g. "https://ntfy.sh/my-topic"), or both')
    elif table.get("url") == "" and not table.get("cmd"):
        ctx.add("notify.url", 'expected an http:// or https:// URL, got ""')
    if table.get("cmd") == []:
        ctx.add("notify.cmd", "expected a non-empty argv list, got []")
    if notify.url and not re.match(r"^https?://[^\s/]+", notify.url):
        ctx.add("notify.url", f"{show(notify.url)} is not an http:// or https:// URL")
    for i, kind in enumerate(notify.on or []):
        if kind not in NOTIFY_KINDS:
            ctx.add(f"notify.on[{i}]", f"{show(kind)} is not an event kind that notifies (kinds: {', '.join(NOTIFY_KINDS)}){suggest(kind, NOTIFY_KINDS)}")
    return notify


def _array(raw: dict[str, Any], key: str, ctx: Context) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        ctx.add(key, f"expected an array of tables [[{key}]], got {show(value)}")
        return []
    return value


def _backends(tables: dict[str, Any], ctx: Context) -> dict[str, BackendConfig]:
    raws: dict[str, dict[str, Any]] = {name: dict(preset) for name, preset in PRESETS.items()}
    for name, block in tables.items():
        key = f"backend.{name}"
        if not isinstance(block, dict):
            ctx.add(key, f"expected a table [backend.{name}], got {show(block)}")
            continue
        extends = block.get("extends")
        if extends is None:
            base = PRESETS.get(name, {})
        elif extends == name and name in PRESETS:
            base = PRESETS[name]
        elif isinstance(extends, str) and extends in raws and extends != name:
            base = raws[extends]
        else:
            known = sorted(raws)
            ctx.add(f"{key}.extends", f"{show(extends)} is not a known backend (known: {', '.join(known)}){suggest(str(extends), known)}")
            base = {}
        if "name" in block:
            ctx.add(f"{key}.name", "unknown key (the backend's name is its table name)")
            block = {k: v for k, v in block.items() if k != "name"}
        raws[name] = merge_backend(base, block)
        if "extends" in block:
            raws[name]["extends"] = block["extends"]
    out: dict[str, BackendConfig] = {}
    for name, table in raws.items():
        backend = build(BackendConfig, table, f"backend.{name}", ctx)
        backend.name = name
        if not _NAME_RE.match(name):
            ctx.add(f"backend.{name}", "a backend name may only hold letters, digits, '-' and '_'")
        if backend.prompt_delivery == "exec" and not backend.exec_template:
            ctx.add(f"backend.{name}.exec_template", 'required when prompt_delivery = "exec" (an argv list with {prompt} or {prompt_file})')
        _check_screen(backend, f"backend.{name}", ctx)
        out[name] = backend
    return out


def _check_screen(backend: BackendConfig, key: str, ctx: Context) -> None:
    """`screen_version` must be a version of a built-in screen set; `screen_patterns` keys must be
    pattern fields of `ScreenPatterns` and their values regexes that compile; a dialog gives
    `choose` or `keys`, not both, and a `match` unless it names a dialog of the screen table."""
    version = backend.screen_version
    if version:
        tables = TABLES.get(backend.screen)
        if not tables:
            sets = " or ".join(map(show, TABLES))
            ctx.add(f"{key}.screen_version", f"only for a backend with a built-in screen set (screen = {sets})")
        elif parse_version(version) is None:
            newest = show(tables[-1].version)
            ctx.add(f"{key}.screen_version", f'{show(version)} is not a version such as {newest} ("" = the newest table)')
    table_names = {d.name for t in TABLES.get(backend.screen, ()) for d in t.patterns.dialogs}
    for i, dialog in enumerate(backend.dialogs):
        spot = f"{key}.dialogs[{i}]"
        if dialog.choose and dialog.keys:
            ctx.add(f"{spot}.keys", "give choose (the option to choose) or keys, not both")
        if not dialog.match and dialog.name not in table_names:
            known = f" (the screen table's: {', '.join(sorted(table_names))})" if table_names else ""
            ctx.add(f"{spot}.match", f"required unless name is a dialog of the screen table{known}")
    for field_name, value in backend.screen_patterns.items():
        spot = f"{key}.screen_patterns.{field_name}"
        if field_name not in OVERRIDABLE:
            ctx.add(spot, f"unknown key (known: {', '.join(OVERRIDABLE)}){suggest(field_name, OVERRIDABLE)}")
            continue
        try:
            re.compile(value)
        except re.error as exc:
            ctx.add(spot, f"regex {show(value)} does not compile: {exc}")


def _agent(table: dict[str, Any], i: int, defaults: DefaultsConfig, backends: dict[str, BackendConfig], ctx: Context) -> AgentConfig:
    key = f"agent[{i}]"
    agent: AgentConfig = build(AgentConfig, table, key, ctx)
    agent.backend = agent.backend or defaults.backend
    agent.model = agent.model if agent.model is not None else defaults.model
    agent.watch = agent.watch or defaults.watch
    agent.dir = agent.dir or defaults.dir
    if is_watcher_backend(agent.backend, backends):
        _watcher_agent(agent, table, key, ctx)
    else:
        for name in WATCHER_KEYS:
            if name in table:
                ctx.add(f"{key}.{name}", 'only for watcher agents (backend = "watcher")')
    if agent.prompt is not None and agent.prompt_file is not None:
        ctx.add(f"{key}.prompt_file", "give either prompt or prompt_file, not both")
    if agent.prompt_file is not None and not agent.prompt_file.is_file():
        ctx.add(f"{key}.prompt_file", f"file not found: {agent.prompt_file}")
    return agent


def _watcher_agent(agent: AgentConfig, table: dict[str, Any], key: str, ctx: Context) -> None:
    """Defaults and checks of an agent on the watcher backend: off unless `enabled = true`, healed
    but never stall-checked (a quiet screen is a watcher's normal state)."""
    if "enabled" not in table:
        agent.enabled = False
    if "watch" not in table and agent.watch == "heal+stall":
        agent.watch = "heal"
    if agent.kind != "persistent":
        ctx.add(f"{key}.kind", f'a watcher agent is kind = "persistent", got {show(agent.kind)}')
    for name in ("wake", "prompt", "prompt_file"):
        if name in table:
            ctx.add(f"{key}.{name}", "a watcher agent takes no prompt or wake (its backend runs `agents watcher run`)")
    known = [*BUILTIN_WATCHERS, COMMAND]
    if agent.watcher is None:
        if "watcher" not in table:
            ctx.add(f"{key}.watcher", f'required for a watcher agent: a built-in ({", ".join(BUILTIN_WATCHERS)}), "module:factory" or "command"')
        return
    if agent.watcher not in known and not is_entry_point(agent.watcher):
        ctx.add(f"{key}.watcher", f'{show(agent.watcher)} is not a built-in ({", ".join(BUILTIN_WATCHERS)}), "command" or "module:factory"'
                f"{suggest(agent.watcher, known)}")
    if agent.watcher == COMMAND and not agent.watcher_cmd:
        ctx.add(f"{key}.watcher_cmd", 'required for watcher = "command": the argv that prints the entities as JSON lines')
    if agent.watcher != COMMAND and "watcher_cmd" in table:
        ctx.add(f"{key}.watcher_cmd", 'only for watcher = "command"')
    if agent.watcher == ISSUE_RUNS:
        if not agent.ci_cmd:
            ctx.add(f"{key}.ci_cmd", 'required for watcher = "issue-runs": argv printing green, red or pending, e.g. ["./ci-status.sh", "{commit}"]')
        if agent.fix_budget is not None and agent.fix_budget < 0:
            ctx.add(f"{key}.fix_budget", f"expected a count >= 0, got {show(agent.fix_budget)}")
    else:
        for name in ISSUE_RUN_KEYS:
            if name in table:
                ctx.add(f"{key}.{name}", f'only for watcher = "{ISSUE_RUNS}"')


def _service(table: dict[str, Any], i: int, defaults: DefaultsConfig, ctx: Context) -> ServiceConfig:
    key = f"service[{i}]"
    service: ServiceConfig = build(ServiceConfig, table, key, ctx)
    service.dir = service.dir or defaults.dir
    service.watch = service.watch or "heal"
    if service.cmd == []:
        ctx.add(f"{key}.cmd", "expected a non-empty argv list, got []")
    return service


def _cross_check(config: Config, ctx: Context) -> None:
    prefix = config.defaults.session_prefix or ""
    names: dict[str, str] = {}
    sessions: dict[str, str] = {config.watchdog_session: "the watchdog"}
    units = [(f"agent[{i}]", a.name, a.session) for i, a in enumerate(config.agents)]
    units += [(f"service[{i}]", s.name, s.session) for i, s in enumerate(config.services)]
    for key, name, session in units:
        if name is None:
            continue
        if not _NAME_RE.match(name):
            ctx.add(f"{key}.name", f"{show(name)} may only hold letters, digits, '-' and '_'")
            continue
        if name in names:
            ctx.add(f"{key}.name", f"{show(name)} is already used by {names[name]}")
            continue
        names[name] = key
        session = session or prefix + name
        if session and not _NAME_RE.match(session):
            ctx.add(f"{key}.session", f"{show(session)} may only hold letters, digits, '-' and '_'")
        elif session in sessions:
            ctx.add(f"{key}.session", f"tmux session {show(session)} is already used by {sessions[session]}")
        sessions.setdefault(session, key)
    for i, agent in enumerate(config.agents):
        if agent.session is None and agent.name:
            agent.session = prefix + agent.name
        if agent.backend not in config.backends:
            known = sorted(config.backends)
            ctx.add(f"agent[{i}].backend", f"{show(agent.backend)} is not a defined backend (known: {', '.join(known)}){suggest(str(agent.backend), known)}")
        if agent.kind == "loop" and config.loop is None:
            ctx.add(f"agent[{i}].kind", '"loop" needs a [loop] section with the phase sequence')
    for service in config.services:
        if service.session is None and service.name:
            service.session = prefix + service.name
    for i, agent in enumerate(config.agents):
        if agent.notify is None or not config.is_watcher(agent):
            continue
        target = config.agent(agent.notify)
        if target is not None and (target is agent or config.is_watcher(target)):
            ctx.add(f"agent[{i}].notify", f"{show(agent.notify)} is a watcher; notify names the agent that acts on the flags")
        else:
            _check_target(config, f"agent[{i}].notify", agent.notify, ctx)
    if config.loop is not None:
        _check_loop(config, config.loop, ctx)
    _check_budget(config, ctx)


def _check_budget(config: Config, ctx: Context) -> None:
    """`[watchdog.token_budget]`: `warn` a share in (0, 1]; budgets need the ledger that counts them."""
    budget = config.watchdog.token_budget
    if budget is None:
        return
    if not 0 < budget.warn <= 1:
        ctx.add("watchdog.token_budget.warn", f"expected a share of the budget in (0, 1], e.g. 0.8; got {show(budget.warn)}")
    if (budget.run is not None or budget.phase is not None) and not config.watchdog.log_tokens:
        ctx.add("watchdog.token_budget", "a token budget needs the token ledger: set [watchdog] log_tokens = true")


def _check_target(config: Config, key: str, name: str, ctx: Context, kind: str | None = None) -> None:
    agent = config.agent(name)
    if agent is None:
        known = [a.name for a in config.agents if isinstance(a.name, str) and a.name]
        ctx.add(key, f"{show(name)} names no agent (agents: {', '.join(known) or 'none'}){suggest(name, known)}")
    elif kind is not None and agent.kind != kind:
        ctx.add(key, f'{show(name)} is a {agent.kind} agent; expected a kind = "{kind}" agent')


def _check_loop(config: Config, loop: LoopConfig, ctx: Context) -> None:
    if not loop.done_marker.strip():
        ctx.add("loop.done_marker", "expected a non-blank line such as \"## DONE\" (a blank marker would match any empty line)")
    if loop.kickoff is not None:
        if not loop.kickoff.is_file():
            ctx.add("loop.kickoff", f"file not found: {loop.kickoff}")
        else:
            for slot in _template_slots(loop.kickoff, ctx):
                if slot not in KICKOFF_SLOTS:
                    allowed = ", ".join("{" + s + "}" for s in KICKOFF_SLOTS)
                    ctx.add("loop.kickoff", f"unknown slot {{{slot}}} in {loop.kickoff.name} (slots: {allowed}){suggest(slot, KICKOFF_SLOTS)}")
    seen: dict[str, int] = {}
    for i, phase in enumerate(loop.phases):
        if phase.id in seen:
            ctx.add(f"loop.phases[{i}].id", f"{show(phase.id)} is already used by loop.phases[{seen[phase.id]}]")
        seen.setdefault(phase.id, i)
        if phase.plan is not None and not phase.plan.is_file():
            ctx.add(f"loop.phases[{i}].plan", f"file not found: {phase.plan}")
    if loop.on_complete is not None and loop.on_complete.run:
        _check_target(config, "loop.on_complete.run", loop.on_complete.run, ctx, kind="task")
    handoff = loop.handoff
    for field_name in ("claim_pings", "review_pings"):
        for j, name in enumerate(getattr(handoff, field_name)):
            _check_target(config, f"loop.handoff.{field_name}[{j}]", name, ctx)
    for file, name in handoff.inboxes.items():
        _check_target(config, f"loop.handoff.inboxes.{file}", name, ctx)
    if handoff.wake and loop.repo is None:
        ctx.add("loop.handoff.wake", f"{show(handoff.wake)} needs [loop].repo (the clone whose origin gets the hook)")
    if loop.roles_dir is not None:
        for i, agent in enumerate(config.agents):
            if agent.kind == "loop" and agent.role and not (loop.roles_dir / f"{agent.role}.md").is_file():
                ctx.add(f"agent[{i}].role", f"role file not found: {loop.roles_dir / (agent.role + '.md')}")


def _template_slots(path: Path, ctx: Context) -> list[str]:
    """Names of the `{slot}`s in a kickoff template ({{ and }} are literal braces)."""
    try:
        text = path.read_text(encoding="utf-8")
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except (ValueError, OSError) as exc:
        ctx.add("loop.kickoff", f"{path.name} is not a usable template ({exc}); write literal braces as {{{{ and }}}}")
        return []
