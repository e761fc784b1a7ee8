"""The watchdog's data model: what a tick observes, what policies see and return, and outcomes.

A tick is `decide(config, state, observation, now) -> (state', actions)` (watchdog/decide.py):

- `Observation` is built once per tick by `watchdog.observe.Observer` from the injected runtime,
  git, ledger and file readers; it never touches the state.
- Policies see a `Tick` (config, the state so far, one `AgentView` per agent, the phase, git) and
  return a `Step`: their new state and their actions. Nothing here is mutable.
- The executor carries out actions and reports an `Outcome` per action; `watchdog.settle`
  folds the outcomes into the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from agent_orchestrator.config.schema import AgentConfig, BackendConfig, Config
from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth.model import HookEvent, Truth
from agent_orchestrator.watchdog.state import AgentState, WatchdogState

# -- observation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitView:
    """A commit on origin/main: `sha`, `subject`, committer time `ts` (epoch seconds)."""

    sha: str
    subject: str
    ts: float = 0.0


@dataclass(frozen=True)
class GitView:
    """The handoff repo as fetched this tick.

    `ok` False (with `error`) when the fetch failed; `head` is origin/main; `commits` are new
    since the state's last head (oldest first) or, on first sight (no head seen yet), the recent
    history that the handoff policy filters by the run's start; `rewritten` when the last head is
    no longer an ancestor (force-push); `inbox_blobs` the pushed blob id of each inbox file (None:
    absent); `status_done` whether the current phase's status file, as pushed, has the done marker.
    """

    ok: bool
    error: str = ""
    head: str | None = None
    commits: tuple[CommitView, ...] = ()
    rewritten: bool = False
    inbox_blobs: Mapping[str, str | None] = field(default_factory=dict)
    status_done: bool = False


@dataclass(frozen=True)
class Request:
    """A CLI request (`<log_dir>/state/requests/<id>.json`) for the watchdog to apply.

    `action` is "clear" (agents restart), "pause", "resume", "phase" (with `index`, `reset` and
    `why`) or "send" (a message for the agent's outbox: `text`, `kind` — send, flag, fix — and
    `why`); `agent` is "" for project-wide requests; `id` is the file's name.
    """

    id: str
    action: str
    agent: str = ""
    index: int | None = None
    reset: bool = False
    why: str = ""
    text: str = ""
    kind: str = ""


@dataclass(frozen=True)
class AgentObservation:
    """One agent as observed this tick.

    `pane` is None when its session is gone. `screen` holds the facts of a capture taken this
    tick (None when the pane was not captured: tmux says nothing changed since the last one).
    `session_status` is Claude Code's `sessions/<pid>.json` status ("busy"/"idle"/"waiting")
    when the file is fresh (its pid alive), else None. `run_seconds` is how long the last run
    lived when the pane is dead (launcher exit record). `launch_pid` is the pid the launcher
    recorded for the session's current run. `wake_text` is the kickoff a wake without its own
    prompt sends (rendered here, outside the policies); `wake_error` says why it could not be
    rendered.
    """

    name: str
    pane: PaneObservation | None
    screen: ScreenFacts | None = None
    session_status: str | None = None
    run_seconds: float | None = None
    launch_pid: int | None = None
    wake_text: str | None = None
    wake_error: str = ""
    hook_events: tuple[HookEvent, ...] = ()
    hook_offset: int | None = None
    hook_reset: bool = False


@dataclass(frozen=True)
class TokenView:
    """What the token ledger holds open: the phase's id and the gate in flight's label; `ready`,
    the gates whose record can be appended (the next boundary is settled), oldest first; and the
    tokens so far of the open phase and of the run (`phase_total`, `run_total`), for budgets."""

    open_phase: str | None = None
    open_gate: str | None = None
    ready: tuple[str, ...] = ()
    phase_total: int = 0
    run_total: int = 0


@dataclass(frozen=True)
class Observation:
    """Everything one tick learned from the world, at `now` (epoch seconds, when the tick
    began). `observed_at` (epoch seconds; None: `now`) is when the last witness was read — the
    hook logs, session status files, screens and git were all read between the two, so anything
    an agent stamped before a witness that showed its turn over is stamped before `observed_at`
    (the token ledger ends a phase there, `policies.phases`)."""

    now: float
    agents: Mapping[str, AgentObservation] = field(default_factory=dict)
    services: Mapping[str, PaneObservation | None] = field(default_factory=dict)
    git: GitView | None = None
    requests: tuple[Request, ...] = ()
    tokens: TokenView | None = None
    created: tuple[float, ...] = ()  # creation times (epoch) of the project's sessions
    # [[host]]s that did not answer this tick (host → reason): their agents and services are not
    # in `agents` / `services` at all — unknown, not gone.
    unreachable: Mapping[str, str] = field(default_factory=dict)
    observed_at: float | None = None

    @property
    def seen_at(self) -> float:
        """`observed_at`, or `now` when the observer did not say (epoch seconds)."""
        return self.now if self.observed_at is None else max(self.now, self.observed_at)


# -- what policies see ------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentView:
    """One agent as the policies see it: the observation joined with the remembered screen.

    `facts` are the latest screen facts (fresh when `captured`, else from an earlier tick — the
    screen has not changed since, as tmux's window activity says). `truth` is this tick's verdict
    from the three witnesses (hooks, status file, screen; `truth.fold`).
    """

    name: str
    agent: AgentConfig
    backend: BackendConfig
    pane: PaneObservation | None
    facts: ScreenFacts | None = None
    captured: bool = False
    session_status: str | None = None
    run_seconds: float | None = None
    launch_pid: int | None = None
    wake_text: str | None = None
    wake_error: str = ""
    truth: Truth = field(default_factory=Truth)

    @property
    def alive(self) -> bool:
        """The agent process runs (session exists, pane alive, not back at a shell)."""
        return self.pane is not None and not self.pane.dead and not self.pane.exited_to_shell(self.backend.process_name)

    @property
    def busy(self) -> bool:
        """Working right now (a turn runs, or an automatic retry), by the most trusted witness."""
        if self.truth.state != "unknown":
            return self.truth.state in ("busy", "retrying")
        if self.session_status == "busy":
            return True
        return bool(self.facts and self.facts.active)


@dataclass(frozen=True)
class PhaseView:
    """The loop's current phase as the policies need it (None fields without a [loop])."""

    index: int = 0
    phase_id: str | None = None
    status_file: str | None = None
    done_marker: str = "## DONE"
    done: bool = False
    complete: bool = False


@dataclass(frozen=True)
class Tick:
    """What one policy sees: config, the state so far, the views, `now` (epoch), the phase as it
    was when the tick began, whether this is a heavy (heal) tick, services and git, and the
    `[[host]]`s that did not answer (their agents have no view)."""

    config: Config
    state: WatchdogState
    views: Mapping[str, AgentView]
    now: float
    phase: PhaseView = field(default_factory=PhaseView)
    heavy: bool = False
    services: Mapping[str, PaneObservation | None] = field(default_factory=dict)
    git: GitView | None = None
    tokens: TokenView | None = None
    requests: tuple[Request, ...] = ()
    unreachable: Mapping[str, str] = field(default_factory=dict)  # [[host]] → why it did not answer
    seen_at: float | None = None  # when the observation's last witness was read (epoch; None: `now`)

    @property
    def phase_end(self) -> float:
        """Where a phase this tick ends stops for the token ledger (epoch seconds): the end of the
        observation that saw it done, so a turn's last reply — stamped before the Stop hook, the
        status file or the screen that showed the turn over — falls inside the phase."""
        return self.now if self.seen_at is None else self.seen_at  # (`Observation.seen_at`: never before `now`)

    def agent_state(self, name: str) -> AgentState:
        """Bookkeeping of agent `name`."""
        return self.state.agent(name)

    def with_state(self, state: WatchdogState) -> Tick:
        """The same tick over a newer state."""
        return replace(self, state=state)


# -- actions ----------------------------------------------------------------------------------

StartKind = Literal["restart", "heal", "reboot", "advance", "wake", "on-complete"]
SendKind = Literal["nudge", "probe", "wake", "ping", "send", "flag", "fix", "reannounce"]
Via = Literal["submit", "queue", "finish"]


@dataclass(frozen=True)
class Start:
    """(Re)start an agent or service fresh in its session with its kickoff (or `prompt`).

    `intent` is the id of the durable intent recorded for it (see `state.Intent`); "" before
    the intent step of `decide` gives it one.
    """

    agent: str
    reason: str
    prompt: str | None = None
    resume: bool = False
    kind: StartKind = "restart"
    intent: str = ""


@dataclass(frozen=True)
class Send:
    """A message for an agent: `decide` puts it in the agent's outbox, which delivers it when the
    agent's turn ends. `topic` merges waiting messages (e.g. "claim": two claim pings become one
    listing both `items`); "" = the kind is the topic."""

    agent: str
    text: str
    kind: SendKind
    reason: str
    topic: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deliver:
    """Deliver outbox message `message` to `agent` now: paste and submit it (`via="submit"`), hand
    it to the CLI's own queue with the backend's queue key because the agent stayed busy past
    the bounded wait (`"queue"`), or only submit what already sits in the input box (`"finish"`)."""

    agent: str
    message: str
    via: Via = "submit"
    waited: float = 0.0


@dataclass(frozen=True)
class Keys:
    """Send tmux keys (e.g. to answer a startup dialog)."""

    agent: str
    keys: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Note:
    """An event with no side effect beyond the event log (e.g. needs-human, limit detected)."""

    agent: str
    event: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseChange:
    """The phase machine moved: the sequence continues at `index`, completed (write
    SEQUENCE-COMPLETE once) or resumed at an appended phase (`resumed`)."""

    ended_phase: str | None
    index: int
    complete: bool
    reason: str
    agent: str = ""
    resumed: str | None = None
    by_hand: bool = False


@dataclass(frozen=True)
class GateChange:
    """A new gate was claimed in `phase` (`previous` is the gate it replaces, if any) by commit
    `sha` with `subject`, committed at `committed` (git committer time, whole epoch seconds)."""

    phase: str | None
    previous: str | None
    label: str
    reason: str = ""
    agent: str = ""
    sha: str = ""
    subject: str = ""
    committed: float = 0.0


@dataclass(frozen=True)
class CloseTokens:
    """Append the token record of `phase`'s oldest open gate (with `gate_only`) or of the phase
    (its gates first). `reread` reads the transcripts once more before closing (the old sessions
    of a finished phase have just ended, so their last replies are final). A phase ends at `at`
    (epoch; None = when the executor runs it); with `successor` the next phase starts there, else
    (the sequence is complete) later tokens belong to no phase."""

    phase: str
    gate_only: bool = False
    reread: bool = False
    reason: str = ""
    agent: str = ""
    at: float | None = None
    successor: bool = True


Action = Start | Send | Deliver | Keys | Note | PhaseChange | GateChange | CloseTokens


@dataclass(frozen=True)
class Step:
    """What one policy returns: its new state and its actions."""

    state: WatchdogState
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What the executor did with one action: `ok`, a human `detail` on failure, and for a
    delivery how many submit keys it took (`attempts`) and what confirmed it (`confirmed`:
    "hook", "screen" or "")."""

    action: Action
    ok: bool
    detail: str = ""
    attempts: int = 0
    confirmed: str = ""
