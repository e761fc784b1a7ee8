"""Building one tick's `Observation` from the injected collaborators (the only reads of a tick).

Per tick: one bulk tmux observation; captures only of panes whose activity changed (or whose
facts a policy waits for), all in one bulk capture — at most two tmux processes a tick, however
many panes changed; Claude Code's session-status file for live Claude agents; the hook events
appended since the last tick (agents whose backend has hooks wired); launch records; an
`ls-remote` of the handoff repo (a fetch only when its head moved) and, only when origin/main
moved, the new commits, inbox blobs and the phase's status file; CLI request files; the token
ledger's poll; the kickoff text of a wake that is due. The state is read, never written.

Agents on other machines (`[[host]]`, runtime/hosts.py) come through the same runtime; before
their files are read, `refresh` brings the local copies of what they wrote up to date (one ssh
call per host, runtime/mirror.py). An agent or service whose host did not answer is left out of
the observation altogether — not "gone", unknown — and the host is in `Observation.unreachable`:
no policy acts on what it cannot see.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from agent_orchestrator.agents import hooks
from agent_orchestrator.agents.kickoff import agent_kickoff
from agent_orchestrator.config.schema import AgentConfig, Config, ServiceConfig
from agent_orchestrator.handoff.gitrepo import Commit, FetchResult, GitError, GitRepo
from agent_orchestrator.handoff.markers import has_done_marker
from agent_orchestrator.handoff.mirror import ensure_mirror
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.screen.facts import read_facts
from agent_orchestrator.tokens.claims import Claim, claim_of
from agent_orchestrator.transcripts.discovery import agent_home
from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.truth.hook_events import read_events as read_hook_events
from agent_orchestrator.truth.model import HookEvent
from agent_orchestrator.watchdog.model import AgentObservation, CommitView, GitView, Observation, Request, TokenView
from agent_orchestrator.watchdog.policies.outbox import START_SETTLE
from agent_orchestrator.watchdog.state import AgentState, WatchdogState


class GitSource(Protocol):
    """The handoff repo as the observer reads it (`handoff.gitrepo.GitRepo` is the real one)."""

    def fetch(self) -> FetchResult: ...
    def commits_between(self, old: str | None, new: str) -> tuple[list[Commit], bool]: ...
    def log(self, rev: str | None = None, limit: int = 200) -> list[Commit]: ...
    def blob_ids(self, rel_paths: list[str], rev: str | None = None) -> dict[str, str | None]: ...
    def show(self, rel_path: str, rev: str | None = None) -> str | None: ...


class TokenSource(Protocol):
    """The token ledger as the observer polls it (`tokens.ledger.Ledger` is the real one)."""

    def poll(self, now: float, phase_id: str | None, gate: str | None, since: float | None = None, *,
             claim: Claim | None = None, phase_started: float | None = None, phase_end: float | None = None) -> object: ...
    def open_ids(self) -> tuple[str | None, str | None]: ...
    def successor_due(self) -> bool: ...
    def ready_gates(self) -> list[str]: ...
    def totals(self, since: float | None = None) -> tuple[int, int]: ...


GitFactory = Callable[[Path, float], GitSource]
StatusReader = Callable[[Path, int | None], str | None]


def claude_session_status(home: Path, pid: int | None) -> str | None:
    """Claude Code's `$HOME/.claude/sessions/<pid>.json` "status" if the pid is alive.

    Checked against Claude Code 2.1.197 and 2.1.332 ("busy", "idle", "waiting"). A SIGKILLed
    Claude leaves the file behind with a stale "busy": a dead pid means no signal.
    """
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return claude_status_file(home, pid)


def claude_status_file(home: Path, pid: int | None) -> str | None:
    """The "status" in `home/.claude/sessions/<pid>.json`, not checking the pid: for the local
    copy of a remote agent's file, which the mirror keeps only while that pid lives on its host."""
    if pid is None:
        return None
    try:
        data = json.loads((home / ".claude" / "sessions" / f"{pid}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


def requests_dir(log_dir: Path) -> Path:
    """Where CLI requests wait for the watchdog: `<log_dir>/state/requests/`."""
    return Path(log_dir) / "state" / "requests"


def read_requests(log_dir: Path) -> tuple[Request, ...]:
    """The request files waiting, oldest first (a file that is not a request is refused later)."""
    folder = requests_dir(log_dir)
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return ()
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            out.append(Request(path.name, "unreadable"))
            continue
        index = data.get("index")
        out.append(Request(path.name, str(data.get("action", "")), str(data.get("agent", "")),
                           index if isinstance(index, int) and not isinstance(index, bool) else None,
                           bool(data.get("reset")), str(data.get("why", "")), str(data.get("text", "")), str(data.get("kind", ""))))
    return tuple(out)


class Observer:
    """Reads the world for one project's ticks.

    `runtime` is the tmux server (protocol `Runtime`), `git` builds the handoff repo's reader
    from its path and fetch timeout (seconds) — by default `GitRepo` over the watchdog's own bare
    mirror of the clone's origin (handoff/mirror.py), never the agents' clone itself —,
    `session_status` reads Claude Code's status file.
    It keeps small caches that are not state: the status file's verdict per (head, phase), so
    the file is read only when origin/main moved.
    """

    def __init__(self, runtime: Runtime, *, git: GitFactory | None = None, session_status: StatusReader = claude_session_status,
                 refresh: Callable[[Config], object] | None = None) -> None:
        self.runtime = runtime
        self.refresh = refresh
        self.git = git
        self._mirrors: dict[tuple[Path, Path], GitSource] = {}
        self.session_status = session_status
        self.captures = 0  # pane captures done, for the benchmark
        self._status: tuple[str, int, bool] | None = None  # (head, phase index, done)

    def observe(self, config: Config, state: WatchdogState, now: float, ledger: TokenSource | None = None) -> Observation:
        """Everything this tick needs to decide, at `now` (epoch seconds)."""
        panes = self.runtime.observe()
        down = self.runtime.unreachable()
        if self.refresh is not None:
            self.refresh(config)  # remote agents' hook events, status files and transcripts, copied here
        screens = self._capture(config, state, panes)
        down.update(self.runtime.unreachable())  # a host can stop answering between the two calls
        here = [a for a in config.agents if not _host_down(config, a, down)]
        agents = {a.name: self._agent(config, a, state, panes.get(a.session or ""), screens, now) for a in here}
        services = {s.name: panes.get(s.session or "") for s in config.services if not _host_down(config, s, down)}
        created = tuple(p.created for p in panes.values() if p.created)
        tokens = None
        if ledger is not None:
            # After SEQUENCE-COMPLETE the last phase stays open (to tokens stamped before the
            # completion) until the ledger records it — and is opened first if the close of the
            # phase before it was still settling at the completion (a last phase of seconds).
            ph = state.phase
            last_phase_open = ph.complete and not ledger.successor_due()
            phase, gate = ledger.open_ids() if last_phase_open else self._token_bucket(config, state)
            since = state.run_started if state.run_started is not None else now
            ledger.poll(now, phase, gate, since=since, claim=claim_of(state.handoff.claims.get(gate or ""), gate or ""),
                        phase_started=ph.started, phase_end=ph.completed_at if ph.complete else None)
            phase_total, run_total = ledger.totals(since)
            tokens = TokenView(*ledger.open_ids(), ready=tuple(ledger.ready_gates()), phase_total=phase_total, run_total=run_total)
        return Observation(now, agents, services, self.observe_git(config, state), read_requests(Path(config.defaults.log_dir)),
                           tokens, created, unreachable=down)

    # -- agents ------------------------------------------------------------------------------
    def _capture(self, config: Config, state: WatchdogState, panes: dict[str, PaneObservation]) -> dict[str, list[str]]:
        """The screens this tick needs — every enabled agent alive in its pane whose screen may
        have changed (`needs_capture`) — from one bulk capture (`Runtime.capture_many`: one tmux
        invocation however many changed). A pane that vanished since `observe` is left out."""
        wanted = []
        for agent in config.agents:
            pane = panes.get(agent.session or "")
            if (pane is not None and agent.enabled and not pane.dead
                    and not pane.exited_to_shell(config.backend_of(agent).process_name)
                    and needs_capture(state.agent(agent.name), pane.window_activity)):
                wanted.append(agent.session or "")
        if not wanted:
            return {}
        try:
            screens = self.runtime.capture_many(wanted)
        except TmuxError:
            return {}
        self.captures += len(screens)
        return screens

    def _agent(self, config: Config, agent: AgentConfig, state: WatchdogState, pane: PaneObservation | None,
               screens: dict[str, list[str]], now: float) -> AgentObservation:
        backend = config.backend_of(agent)
        st = state.agent(agent.name)
        session = agent.session or ""
        alive = pane is not None and not pane.dead and not pane.exited_to_shell(backend.process_name)
        # Cached per pane process by the runtime (TmuxRuntime reads the launcher's record once).
        pid = self.runtime.agent_pid(session) if pane is not None else None
        status = None
        if alive and backend.screen == "claude":
            home = agent_home(config, agent)
            status = claude_status_file(home, pid) if config.host_of(agent) is not None else self.session_status(home, pid)
        screen = None
        lines = screens.get(session) if alive and pane is not None and agent.enabled else None
        if lines is not None and pane is not None:
            screen = read_facts(lines, backend, current_command=pane.current_command, now=now, session_status=status)
        run_seconds = None
        if pane is not None and pane.dead:
            record = self.runtime.exit_record(session)
            if record is not None:
                run_seconds = float(record.get("ended", 0)) - float(record.get("started", 0))
        wake_text, wake_error = None, ""
        wake = agent.wake
        if wake is not None and not wake.prompt and st.next_wake_at is not None and now >= st.next_wake_at:
            index = state.phase.index
            try:
                wake_text = agent_kickoff(config, agent, index)
            except (OSError, KeyError, IndexError, ValueError) as exc:
                wake_error = f"kickoff cannot be rendered: {type(exc).__name__}: {exc}"
        hook_events: tuple[HookEvent, ...] = ()
        hook_offset = None
        hook_reset = False
        if hooks.wired(backend.screen, backend.hooks):
            records, hook_offset, hook_reset = tail(hooks.hook_log(Path(config.defaults.log_dir), agent.name),
                                                    st.hooks.offset)
            hook_events = read_hook_events(records)
        return AgentObservation(agent.name, pane, screen, status, run_seconds, pid, wake_text, wake_error,
                                hook_events, hook_offset, hook_reset)

    # -- git -----------------------------------------------------------------------------------
    def observe_git(self, config: Config, state: WatchdogState) -> GitView | None:
        """Fetch the handoff repo and read what the policies need (None without a [loop].repo,
        or once the sequence is complete).

        Per tick: `git ls-remote` + `rev-parse`, and a `git fetch` + `rev-parse` only when the
        remote's head differs from the mirror's origin/main; only when origin/main moved: the new
        commits, the inbox blob ids and the status file. Failures come back as `ok=False`, never raised.
        """
        loop = config.loop
        if loop is None or loop.repo is None or not loop.phases or state.phase.complete:
            return None
        try:
            repo = self._repo(Path(loop.repo), Path(config.defaults.log_dir), loop.handoff.fetch_timeout)
        except GitError as exc:
            return GitView(ok=False, error=str(exc))
        index = min(state.phase.index, len(loop.phases) - 1)
        known = self._status
        last_done = known is not None and known[1] == index and known[2]
        fetched = repo.fetch()
        if not fetched.ok:
            return GitView(ok=False, error=fetched.error, status_done=last_done)
        head = fetched.head
        if head is None:
            return GitView(ok=True)
        hs = state.handoff
        try:
            commits: tuple[CommitView, ...] = ()
            rewritten = False
            if hs.last_seen is not None and head != hs.last_seen:
                found, rewritten = repo.commits_between(hs.last_seen, head)
                commits = tuple(CommitView(c.sha, c.subject, c.ts) for c in found)
            elif hs.last_seen is None:
                # First sight: the recent history; the handoff policy keeps what was pushed
                # since the run started.
                commits = tuple(CommitView(c.sha, c.subject, c.ts) for c in reversed(repo.log(head, limit=50)))
            inbox = dict(hs.inbox)
            if head != hs.last_seen:
                inbox = repo.blob_ids(list(loop.handoff.inboxes)) if loop.handoff.inboxes else {}
            if known is None or known[0] != head or known[1] != index:
                text = repo.show(loop.phases[index].status)
                self._status = known = (head, index, text is not None and has_done_marker(text, loop.done_marker))
        except GitError as exc:
            return GitView(ok=False, error=str(exc), status_done=last_done)
        return GitView(ok=True, head=head, commits=commits, rewritten=rewritten, inbox_blobs=inbox, status_done=known[2])

    def _repo(self, repo: Path, log_dir: Path, timeout: float) -> GitSource:
        if self.git is not None:
            return self.git(repo, timeout)
        key = (repo, log_dir)
        if key not in self._mirrors:
            # probe: `git ls-remote` first, the fetch only when origin/main moved (cheaper than a
            # fetch of nothing on every origin measured; see GitRepo.fetch).
            self._mirrors[key] = GitRepo(ensure_mirror(repo, log_dir, timeout), timeout=timeout, probe=True)
        return self._mirrors[key]

    # -- tokens --------------------------------------------------------------------------------
    @staticmethod
    def _token_bucket(config: Config, state: WatchdogState) -> tuple[str | None, str | None]:
        """(phase id, gate) the ledger charges this tick's tokens to. Without a [loop] the whole
        run is one bucket, "run"."""
        loop = config.loop
        if loop is None or not loop.phases:
            return "run", state.handoff.gate
        phase = loop.phases[min(state.phase.index, len(loop.phases) - 1)].id
        return phase, state.handoff.gate


def _host_down(config: Config, unit: AgentConfig | ServiceConfig, down: dict[str, str]) -> bool:
    host = config.host_of(unit)
    return host is not None and host.name in down


def needs_capture(st: AgentState, activity: float) -> bool:
    """Whether an agent's pane must be captured this tick (`activity`: tmux window activity, epoch).

    Yes when nothing is remembered, the activity moved, output came in the same second as the
    last capture (it may have come after it), the last capture was too soon after a (re)start to
    show the new session (the outbox waits for one: `outbox.START_SETTLE`), or a usage-limit
    probe awaits a fresh screen.
    """
    facts = st.facts
    if facts is None or st.last_activity is None or activity != st.last_activity:
        return True
    if activity >= int(facts.captured_at):
        return True
    if st.last_start is not None and facts.captured_at < st.last_start + START_SETTLE:
        return True
    limit = st.limit
    return bool(limit and limit.probe_sent_at and facts.captured_at <= limit.probe_sent_at)
