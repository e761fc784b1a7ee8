"""What the policies see (`Tick`, `AgentView`, `PhaseView`) and what they return (actions).

Policies are pure: they take a `Tick` — the config, the state, one view per agent and `now` —
update the bookkeeping in `tick.state` and return actions. Only the executor has side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_orchestrator.config.schema import AgentConfig, BackendConfig, Config
from agent_orchestrator.runtime.tmux import PaneObservation
from agent_orchestrator.watchdog.state import AgentState, ScreenFacts, WatchdogState


@dataclass(frozen=True)
class AgentView:
    """One agent as observed this tick.

    `pane` is None when its session is gone. `facts` are the latest screen facts (fresh when
    `captured`, else remembered from an earlier tick — the screen has not changed since, as tmux's
    window activity says). `session_status` is Claude Code's `sessions/<pid>.json` status
    ("busy"/"idle"/"waiting") when fresh, else None. `run_seconds` is how long the last run lived
    when the pane is dead (from the launcher's exit record), else None. `launch_pid` is the pid
    the launcher recorded for the session's current run (None before any).
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

    @property
    def alive(self) -> bool:
        """The agent process runs (session exists, pane alive, not back at a shell)."""
        return self.pane is not None and not self.pane.dead and not self.pane.exited_to_shell(self.backend.process_name)

    @property
    def busy(self) -> bool:
        """Working right now, by the screen or by a fresh session-status file."""
        if self.session_status == "busy":
            return True
        return bool(self.facts and self.facts.active)


@dataclass(frozen=True)
class PhaseView:
    """The loop's current phase as the nudge and wakes need it (None fields without a [loop])."""

    index: int = 0
    phase_id: str | None = None
    status_file: str | None = None
    done_marker: str = "## DONE"
    done: bool = False
    complete: bool = False


@dataclass(frozen=True)
class CommitView:
    """A commit new on origin/main: `sha`, `subject`, committer time `ts` (epoch)."""

    sha: str
    subject: str
    ts: float = 0.0


@dataclass(frozen=True)
class GitView:
    """The handoff repo as fetched this tick.

    `ok` False (with `error`) when the fetch failed; `head` is origin/main; `commits` are new since
    the last head seen, oldest first; `rewritten` when that head is no longer an ancestor
    (force-push); `inbox_blobs` the pushed blob id of each inbox file (None: absent);
    `status_done` whether the current phase's status file as pushed has the done marker.
    """

    ok: bool
    error: str = ""
    head: str | None = None
    commits: tuple[CommitView, ...] = ()
    rewritten: bool = False
    inbox_blobs: dict[str, str | None] = field(default_factory=dict)
    status_done: bool = False


@dataclass
class Tick:
    """Everything one policy run sees. `heavy` is True on heal ticks."""

    config: Config
    state: WatchdogState
    views: dict[str, AgentView]
    now: float
    phase: PhaseView = field(default_factory=PhaseView)
    heavy: bool = False
    services: dict[str, PaneObservation | None] = field(default_factory=dict)
    git: GitView | None = None

    def agent_state(self, name: str) -> AgentState:
        """Bookkeeping of agent `name` (created on first use)."""
        return self.state.agent(name)

    def limited(self, name: str) -> bool:
        """True while the agent waits out a usage limit."""
        return self.state.agent(name).limit is not None


@dataclass(frozen=True)
class Start:
    """(Re)start an agent fresh in its session with its kickoff (or `prompt` instead)."""

    agent: str
    reason: str
    prompt: str | None = None
    resume: bool = False
    action: str = "restart"


@dataclass(frozen=True)
class Send:
    """Deliver a message with verified paste delivery. `kind`: nudge, probe, wake, ping, retry."""

    agent: str
    text: str
    kind: str
    reason: str


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
    action: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseChange:
    """The phase machine moved: record the finished phase's tokens (`ended_phase`), and either
    continue at `index` or mark the sequence complete (write SEQUENCE-COMPLETE once)."""

    ended_phase: str | None
    index: int
    complete: bool
    reason: str
    agent: str = ""
    resumed: str | None = None  # the appended phase a completed sequence resumes at


@dataclass(frozen=True)
class GateChange:
    """A new gate was claimed: close the token record of `previous` (if any) in `phase`."""

    phase: str | None
    previous: str | None
    label: str
    reason: str = ""
    agent: str = ""


Action = Start | Send | Keys | Note | PhaseChange | GateChange
