"""The `agents.toml` schema as typed dataclasses.

Every field carries its TOML key (the field name), its type (checked by `config.fields`), its
default and, in `metadata`, constraints the checker enforces:

- ``positive``: a number of seconds (or a count) that must be > 0;
- ``regex``: a Python regular expression that must compile;
- ``path``: a path, resolved against the directory of the config file;
- ``required``: the key must be present;
- ``choices``: the allowed string values;
- ``doc``: one line for the README's config reference and for error messages.

Durations are seconds (float). Regexes stay strings here (users override them from TOML);
consumers compile them through `config.regex.compiled`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def opt(default: Any = None, *, doc: str = "", factory: Any = None, **meta: Any) -> Any:
    """A dataclass field with a default (or factory) and checker metadata."""
    meta["doc"] = doc
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


KINDS = ("loop", "persistent", "task")
LOCAL_HOST = "local"  # `host = "local"`: this machine (the default)
WATCH_MODES = ("none", "heal", "heal+stall")
PROMPT_DELIVERIES = ("arg", "paste", "exec")
TOKEN_GRANULARITIES = ("gate", "phase")


@dataclass
class TokenBudgetConfig:
    """`[watchdog.token_budget]`: how many tokens the run and each phase may spend.

    Tokens as the ledger counts them (`tokens.ledger`): input + output + cache read + cache write,
    the `total` column of `agents tokens`. Needs `log_tokens = true`. At `warn` of a budget a
    `budget` event and a `status` line warn once; at the whole of it the loop agents are held
    (needs-human, with the figure) until the budget is raised or a person runs `agents restart` /
    `agents resume` on one of them (`watchdog/policies/budget.py`).
    """

    run: int | None = opt(None, positive=True, doc="tokens the whole run may spend (every phase since the watchdog's state began)")
    phase: int | None = opt(None, positive=True, doc="tokens each phase may spend")
    warn: float = opt(0.8, positive=True, doc="share of a budget (0 < warn ≤ 1) at which a `budget` event and a `status` line warn")


@dataclass
class WatchdogConfig:
    """`[watchdog]`: tick pacing, stall/limit timing and the restart policy (all in seconds)."""

    signal_interval: float = opt(5.0, positive=True, doc="light tick: stall, limits, wakes, handoff, phase advance")
    heavy_interval: float = opt(30.0, positive=True, doc="heavy tick: heal dead or exited agents")
    stall_grace: float = opt(120.0, positive=True, doc="slack after a WAITING-UNTIL time before the agent counts as stalled")
    limit_reset_slack: float = opt(60.0, positive=True, doc="wait this long past a usage-limit reset before probing")
    limit_probe_fallback: float = opt(1800.0, positive=True, doc="probe interval when a usage-limit banner has no parseable reset time")
    log_tokens: bool = opt(False, doc="write per-phase (and per-gate) token records to <log_dir>/token-log.jsonl")
    token_granularity: str = opt("gate", choices=TOKEN_GRANULARITIES, doc='"gate": a record per claimed gate and per phase; "phase": per phase only')
    token_budget: TokenBudgetConfig | None = opt(None, doc="{run, phase, warn}: token budgets; see [watchdog.token_budget]")
    start_secs: float = opt(10.0, positive=True, doc="a start that dies within this many seconds is a failed start")
    restart_backoff: float = opt(5.0, positive=True, doc="first delay after a failed start; doubles per failed start")
    restart_backoff_max: float = opt(300.0, positive=True, doc="cap on the restart backoff")
    restart_burst: int = opt(5, positive=True, doc="more restarts than this within restart_window puts the agent in needs-human")
    restart_window: float = opt(600.0, positive=True, doc="the window restart_burst counts over")
    delivery_attempts: int = opt(3, positive=True, doc="how many times a message's submit is retried before delivery fails")
    message_wait: dict[str, float] = opt(factory=lambda: {"default": 600.0},
                                         doc="{kind = seconds}: how long a message waits for a busy agent's turn to end before it goes "
                                             "through the CLI's own queue (kinds: ping, nudge, probe, wake, send, flag, fix, reannounce; "
                                             "default = every other kind)")


@dataclass
class DefaultsConfig:
    """`[defaults]`: the project namespace and values every agent and service inherits."""

    session_prefix: str = opt(None, required=True, doc="tmux session namespace, prepended to every agent name (required)")
    log_dir: Path = opt(None, required=True, path=True, doc="state, events, logs and the token ledger live here (required)")
    backend: str = opt("claude", doc="backend of agents that do not name one")
    model: str | None = opt(None, doc="model of agents that do not name one (backend default if unset)")
    watch: str = opt("heal", choices=WATCH_MODES, doc="supervision of agents that do not set it")
    dir: Path | None = opt(None, path=True, doc="working directory of agents that do not set it (default: the config's folder)")
    tmux_socket: str | None = opt(None, doc="private tmux server: a socket name (-L) or, with a '/', a socket path (-S); default: the user's server")
    width: int = opt(200, positive=True, doc="pane width of new sessions (columns)")
    height: int = opt(50, positive=True, doc="pane height of new sessions (rows)")


@dataclass
class DialogConfig:
    """One dialog a backend may show, and what to choose in it.

    Laid over the screen table's dialogs by `name`. `choose` names the option to choose by its
    text; the cursor is moved onto it one key at a time, as the screen shows, then confirmed.
    `keys` (the older way, kept for backward compatibility) are sent blindly instead, for a
    dialog without `choose`.
    """

    match: str = opt("", regex=True, doc='regex that is on screen while the dialog is up ("" = the screen table\'s dialog of this name)')
    choose: str = opt("", regex=True, doc='regex matching the text of the option to choose, e.g. "^Yes, I trust"; "" (and no keys) = '
                                          'a person must answer (a needs-input event)')
    keys: list[str] = opt(factory=list, doc="legacy: tmux key names sent blindly to answer it, e.g. [\"Down\", \"Enter\"] "
                                            "(only without choose)")
    name: str = opt("", doc="label used in events; a screen table's dialog of the same name is replaced")


@dataclass
class TranscriptsConfig:
    """Where a backend writes its transcripts and which reader parses them."""

    path: str = opt("", doc="folder of JSONL transcripts; ~ is the agent's HOME")
    reader: str = opt("none", choices=("claude", "codex", "none"), doc="transcript format")


@dataclass
class BackendConfig:
    """`[backend.<name>]`: how to launch an agent CLI and how to read its screen.

    A block named like a built-in preset (claude, codex, demo) — or with `extends = "<preset>"` —
    starts from that preset and overrides the keys it sets; `env` tables are merged.
    """

    name: str = opt("", internal=True, doc="(the table name)")
    extends: str | None = opt(None, doc="preset or earlier backend this block starts from")
    bin: str = opt(None, required=True, doc="the executable")
    flags: list[str] = opt(factory=list, doc="arguments placed before the model flag and the kickoff")
    env: dict[str, str] = opt(factory=dict, doc="environment added for agents of this backend")
    model_flag: str = opt("--model", doc="flag that takes the model name; \"\" = the model is not passed")
    prompt_delivery: str = opt("arg", choices=PROMPT_DELIVERIES, doc='"arg": kickoff as the last argument; "paste": start, then paste it; '
                                                                        '"exec": exec_template')
    exec_template: list[str] = opt(factory=list, doc="argv for prompt_delivery = exec; slots {bin} {model} {prompt} {prompt_file} {agent} {config}")
    submit_key: str = opt("Enter", doc="tmux key that submits pasted input")
    queue_key: str = opt("", doc="tmux key that queues pasted input for after the running turn (Codex: Tab; Claude: Enter while busy); "
                                 "\"\" = the CLI has no queue: messages wait for the turn to end")
    process_name: list[str] = opt(factory=list, one_or_many=True, doc="pane_current_command values that mean the agent is running")
    stall_idle: float = opt(600.0, positive=True, doc="seconds without screen change (and not busy) before the agent counts as stalled")
    hung_idle: float = opt(1800.0, positive=True, doc="a busy screen unchanged this long counts as a hung turn (stalled)")
    active_re: str = opt("", regex=True, doc='on the live bottom of the screen: working right now ("" = the screen table\'s)')
    input_re: str = opt("", regex=True,
                        doc='matches the input line; group 1 is its content (used to verify a submit; "" = the screen table\'s)')
    limit_re: str = opt("", regex=True, doc='usage-limit banner ("" = the screen table\'s)')
    fatal_re: str = opt("", regex=True, doc='unrecoverable conversation: restart fresh ("" = the screen table\'s)')
    ready_re: str = opt("", regex=True, doc="screen is ready for a pasted kickoff (prompt_delivery = paste)")
    startup_timeout: float = opt(60.0, positive=True, doc="seconds to wait for ready_re before pasting anyway")
    supports_resume: bool = opt(False, doc="the CLI can continue its last conversation")
    resume_flags: list[str] = opt(factory=list, doc="flags added when an agent with resume = true restarts")
    dialogs: list[DialogConfig] = opt(factory=list, doc="dialogs and what to choose in them: [{name, match, choose}], laid over the "
                                                         "screen table's by name (the table's permission prompt is only answered "
                                                         "when listed)")
    transcripts: TranscriptsConfig = opt(factory=TranscriptsConfig, doc="{path, reader}")
    home: str = opt("", choices=("", "scratch"),
                    doc='"scratch": each agent gets its own prepared HOME under <log_dir>/homes/<agent> (rehearsals); "" = the user\'s HOME')
    screen: str = opt("", doc="built-in screen detector set (claude, codex) for detailed pane states")
    hooks: bool = opt(False, doc="record the CLI's own hook events (claude, codex) into <log_dir>/hooks/<agent>.jsonl: "
                                 "the first witness of what the agent does")
    screen_version: str = opt("", doc='CLI version whose screen table applies, e.g. "2.1.197" '
                                      '(a table covers its version up to the next table); "" = the newest')
    screen_patterns: dict[str, str] = opt(factory=dict, doc="{field = regex}: replaces patterns of the screen table (active_re, input_re, "
                                                            "placeholder_re, retry_re, error_re, limit_re, fatal_re, done_re, reply_re, "
                                                            'chrome_re); wins over the *_re keys; "" turns one off')


@dataclass
class WakeConfig:
    """`wake = {interval, prompt}`: re-prompt a persistent agent / re-run a task agent."""

    interval: float = opt(None, required=True, positive=True, doc="seconds between wakes")
    prompt: str = opt("", doc="text sent (persistent) or the run's kickoff (task); default: the agent's prompt")


@dataclass
class HostConfig:
    """`[[host]]`: another machine whose agents run in its tmux, reached over SSH (runtime/ssh.py).

    `log_dir` and `tmux_socket` are on that machine; `ssh_options` are extra `ssh` arguments (an
    argv list, e.g. ["-p", "2222", "-i", "~/.ssh/team"]); `timeout` is how long (seconds) the host
    may take to answer a tick's observation before it counts as unreachable.
    """

    name: str = opt(None, required=True, doc='the name agents and services use in `host = "<name>"` ("local" is this machine)')
    ssh: str = opt(None, required=True, doc='ssh destination, e.g. "me@gpu-box" or a Host alias of ~/.ssh/config')
    ssh_options: list[str] = opt(factory=list, doc='extra ssh arguments (argv), e.g. ["-p", "2222", "-i", "~/.ssh/team"]')
    tmux_socket: str | None = opt(None, doc="tmux server on that host: a socket name (-L) or, with a '/', a socket path (-S); "
                                            "default: the remote user's server")
    log_dir: str = opt(None, required=True, doc="absolute folder on that host for launch records, hook events and scratch HOMEs "
                                                "(created on demand)")
    python: str = opt("python3", doc="Python 3.8+ on that host, runs the pane launcher and the file reader (no package needed there)")
    timeout: float = opt(10.0, positive=True, doc="seconds an ssh call may take before the host counts as unreachable")


@dataclass
class AgentConfig:
    """`[[agent]]`: one agent in its own tmux session."""

    name: str = opt(None, required=True, doc="unique name; the session is session_prefix + name")
    session: str | None = opt(None, doc="tmux session name (default: session_prefix + name)")
    host: str | None = opt(None, doc='[[host]] it runs on (default: this machine; "local" says so); its dir is a path there')
    kind: str = opt("persistent", choices=KINDS, doc='"loop" (phase machine), "persistent" (supervisor, watcher) or "task" (one-shot)')
    role: str | None = opt(None, doc="role name; loop agents get <roles_dir>/<role>.md appended to the kickoff")
    dir: Path | None = opt(None, path=True, doc="working directory (default: [defaults].dir or the config's folder)")
    watch: str | None = opt(None, choices=WATCH_MODES, doc="supervision: none, heal, heal+stall (default: [defaults].watch)")
    backend: str | None = opt(None, doc="backend name (default: [defaults].backend)")
    model: str | None = opt(None, doc="model (default: [defaults].model)")
    prompt: str | None = opt(None, doc="kickoff text")
    prompt_file: Path | None = opt(None, path=True, doc="kickoff read from this file")
    wake: WakeConfig | None = opt(None, doc="{interval, prompt}")
    enabled: bool = opt(True, doc="false: never started, shown as disabled (watcher agents: off unless set to true)")
    resume: bool = opt(False, doc="continue the last conversation on restart (if the backend supports it)")
    env: dict[str, str] = opt(factory=dict, doc="environment added for this agent")
    # Domain watchers (backend = "watcher"): see agent_orchestrator/watchers and the README.
    watcher: str | None = opt(None, doc='watcher agents: a built-in ("claims", "phases", "inboxes", "held", "issue-runs"), "module:factory" or "command"')
    watcher_cmd: list[str] = opt(factory=list, doc='watcher = "command": argv that prints one JSON entity per line (id, state, changed_at, activity_at)')
    window: float = opt(1800.0, positive=True, doc="watcher agents: seconds an entity may sit without progress before it is flagged")
    interval: float = opt(60.0, positive=True, doc="watcher agents: seconds between two ticks")
    notify: str | None = opt(None, doc="watcher agents: agent pinged with every new decision")
    ci_cmd: list[str] = opt(factory=list, doc='watcher = "issue-runs": argv printing green, red or pending for a commit; slots {commit} {issue}')
    notify_cmd: list[str] = opt(factory=list, doc='watcher = "issue-runs": argv run on an escalation (never a shell string); slots {issue} {reason}')
    fix_budget: int = opt(2, doc='watcher = "issue-runs": fix-forward prompts per run before it is frozen and escalated')


WATCHER_KEYS = ("watcher", "watcher_cmd", "window", "interval", "notify", "ci_cmd", "notify_cmd", "fix_budget")
ISSUE_RUN_KEYS = ("ci_cmd", "notify_cmd", "fix_budget")


@dataclass
class ServiceConfig:
    """`[[service]]`: a plain long-running command in its own session (no prompt, healed if watched)."""

    name: str = opt(None, required=True, doc="unique name (shares the namespace with agents)")
    cmd: list[str] = opt(None, required=True,
                         doc="argv of the command, e.g. [\"python3\", \"-m\", \"http.server\"]; \"{python}\" is the orchestrator's own Python")
    session: str | None = opt(None, doc="tmux session name (default: session_prefix + name)")
    host: str | None = opt(None, doc='[[host]] it runs on (default: this machine; "local" says so)')
    dir: Path | None = opt(None, path=True, doc="working directory")
    env: dict[str, str] = opt(factory=dict, doc="environment added")
    enabled: bool = opt(True, doc="false: never started")
    watch: str | None = opt(None, choices=("none", "heal"), doc="heal restarts it when it exits (default: heal)")
    ready_re: str = opt("", regex=True, doc="`up` waits for this on the service's screen before starting agents")
    ready_timeout: float = opt(15.0, positive=True, doc="seconds `up` waits for ready_re")


@dataclass
class PhaseConfig:
    """One entry of `[loop].phases`."""

    id: str = opt(None, required=True, doc="phase id, used in kickoffs and the token ledger")
    plan: Path = opt(None, required=True, path=True, doc="the phase's plan file")
    status: str = opt(None, required=True, doc="status file, relative to the handoff repo, read as pushed on origin/main")
    models: dict[str, str] = opt(factory=dict, doc="{role = model} overrides for this phase")


@dataclass
class OnCompleteConfig:
    """`on_complete = {run = "<task agent>"}`."""

    run: str = opt(None, required=True, doc="task agent started once after the last phase")


@dataclass
class HandoffConfig:
    """`[loop.handoff]`: git claim/review pings and inbox files."""

    claim_pattern: str = opt(r"^(?:\w+(?:\([^)]*\))?!?:\s*)?claim\b", regex=True,
                             doc="commit subject regex (case-insensitive) that pings claim_pings; a `feat:`-style prefix is allowed")
    review_pattern: str = opt(r"^(?:\w+(?:\([^)]*\))?!?:\s*)?review\b", regex=True,
                              doc="commit subject regex (case-insensitive) that pings review_pings")
    claim_pings: list[str] = opt(factory=list, one_or_many=True, doc="agent name or list pinged on a claim commit")
    review_pings: list[str] = opt(factory=list, one_or_many=True, doc="agent name or list pinged on a review commit")
    inboxes: dict[str, str] = opt(factory=dict, doc="{file = agent}: a pushed change of the file pings the agent")
    fetch_timeout: float = opt(30.0, positive=True, doc="seconds a git fetch may take")
    wake: str = opt("", choices=("", "post-receive"),
                    doc='"post-receive": `up` installs a post-receive hook in the origin (a local bare repo) that wakes the watchdog '
                        'on every push, `down` removes it; never over a hook of yours; "" = notice pushes at the next tick')


@dataclass
class LoopConfig:
    """`[loop]`: the phase sequence loop agents walk through."""

    kickoff: Path = opt(None, required=True, path=True, doc="kickoff template; slots {phase_id} {plan} {status} {role} {done_marker} {state_dir}")
    roles_dir: Path | None = opt(None, path=True, doc="folder of <role>.md files appended to the kickoff")
    repo: Path | None = opt(None, path=True, doc="the handoff work repo (a clone whose origin the loop agents push to)")
    state_dir: str = opt(".agents", doc="folder inside the repo for status files and inboxes")
    phases: list[PhaseConfig] = opt(factory=list, doc="[{id, plan, status, models}]")
    done_marker: str = opt("## DONE", doc="a status-file line equal to this marks the phase done")
    done_nudge: bool = opt(True, doc="nudge a stalled loop agent once per phase before rebooting it")
    on_complete: OnCompleteConfig | None = opt(None, doc='{run = "<task agent>"}')
    resume: bool = opt(False, doc="keep loop agents' conversations across phases")
    handoff: HandoffConfig = opt(factory=HandoffConfig, doc="[loop.handoff]")


def is_watcher_backend(name: str | None, backends: dict[str, BackendConfig]) -> bool:
    """True when backend `name` is the `watcher` preset or extends it (directly or through others)."""
    seen: set[str] = set()
    while name and name not in seen:
        if name == "watcher":
            return True
        seen.add(name)
        backend = backends.get(name)
        name = backend.extends if backend is not None else None
    return False


# Event kinds (`events.jsonl` actions) a `[notify]` table may subscribe to; the first six are the
# default: a person is needed, or the run reached a milestone.
NOTIFY_DEFAULT_KINDS = ("needs-human", "needs-input", "usage-limit", "phase-advance", "sequence-complete", "budget")
NOTIFY_KINDS = (*NOTIFY_DEFAULT_KINDS, "usage-limit-over", "config-invalid", "tick-error", "delivery-failed", "truth-conflict",
                "run-escalated", "flag", "host-unreachable", "host-reachable")


@dataclass
class NotifyConfig:
    """`[notify]`: tell a person when the team needs one — a command and/or an HTTP POST per event.

    The event goes out as one JSON object (`events.jsonl`'s fields plus `project` and `kind`): on the
    command's stdin, or as the POST body. Sent from a background thread of the watchdog, so a slow
    or failing receiver never holds up a tick.
    """

    cmd: list[str] = opt(factory=list, doc="argv run per event with the event as JSON on stdin (never a shell string), in the config's folder")
    url: str = opt("", doc="http(s) URL the event is POSTed to as JSON (ntfy topic, chat webhook)")
    on: list[str] = opt(factory=lambda: list(NOTIFY_DEFAULT_KINDS), one_or_many=True,
                        doc="event kinds that notify: " + ", ".join(NOTIFY_KINDS))
    min_interval: float = opt(300.0, positive=True, doc="seconds: at most one notification per kind and agent in this window (the rest are counted)")
    retries: int = opt(3, positive=True, doc="attempts per notification before it is given up (a notify-failed event each time)")
    retry_delay: float = opt(5.0, positive=True, doc="seconds before the first retry; doubles per retry")
    timeout: float = opt(10.0, positive=True, doc="seconds one command run or POST may take")


@dataclass
class Config:
    """A validated `agents.toml`: every agent has its inherited values filled in.

    `source` is the TOML text it was loaded from (what `config.lastgood` saves as the last good
    config); "" for a config built in code.
    """

    path: Path
    watchdog: WatchdogConfig
    defaults: DefaultsConfig
    backends: dict[str, BackendConfig]
    agents: list[AgentConfig]
    services: list[ServiceConfig]
    loop: LoopConfig | None = None
    notify: NotifyConfig | None = None
    source: str = field(default="", repr=False, compare=False)
    hosts: list[HostConfig] = field(default_factory=list)

    def remember(self) -> Path | None:
        """Save this (validated) config as the project's last good one; see `config.lastgood.save`.

        Returns the copy's path, or None when there is no source text or it cannot be written
        (never raises: a read-only log_dir must not stop the caller)."""
        from agent_orchestrator.config.lastgood import save

        return save(self)

    @property
    def root(self) -> Path:
        """Directory of the config file; relative paths resolve against it."""
        return self.path.parent

    def agent(self, name: str) -> AgentConfig | None:
        """The agent called `name`, or None."""
        return next((a for a in self.agents if a.name == name), None)

    def is_watcher(self, agent: AgentConfig) -> bool:
        """True for an agent hosted on the `watcher` backend (or a block that extends it)."""
        return is_watcher_backend(agent.backend, self.backends)

    def watchers(self) -> list[AgentConfig]:
        """The watcher agents, in config order."""
        return [a for a in self.agents if self.is_watcher(a)]

    def service(self, name: str) -> ServiceConfig | None:
        """The service called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)

    def host(self, name: str | None) -> HostConfig | None:
        """The `[[host]]` called `name`; None for this machine (no name, or "local")."""
        if not name or name == LOCAL_HOST:
            return None
        return next((h for h in self.hosts if h.name == name), None)

    def host_of(self, unit: AgentConfig | ServiceConfig) -> HostConfig | None:
        """The `[[host]]` an agent or service runs on; None when it runs on this machine."""
        return self.host(unit.host)

    def backend_of(self, agent: AgentConfig) -> BackendConfig:
        """The agent's backend (validation guarantees it exists)."""
        assert agent.backend is not None
        return self.backends[agent.backend]

    @property
    def watchdog_session(self) -> str:
        """The tmux session the watchdog runs in."""
        return f"{self.defaults.session_prefix}watchdog"
