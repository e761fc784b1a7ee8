"""Issue-run watcher: it acts, within bounds, on the runs `agents run` started.

Each tick, for every run still `running` (`store.py`), it assembles the run's state — the task
agent's status (working / idle / error / unknown, read with the same detectors as the watchdog:
`screen.classify`), the pushed commit (origin/main of the run's clone moved past the run's base),
the CI verdict of that commit (`ci_cmd` with `{commit}` / `{issue}` filled, printing green, red
or pending), the fix-forward prompts already sent, whether the run is stalled (no progress —
the agent working, a new push, a prompt sent — for `window` seconds) — and the pure
`decide.decide` picks wait, fix-forward, escalate-before-push, freeze-and-escalate or
close-success (the rules are in `decide.py`). This module takes the actions:

- **fix-forward** — send the agent the corrective prompt (verified delivery);
- **escalate-before-push** / **freeze-and-escalate** — a freeze also pauses the agent;
- **close-success** — the run is closed.

An escalation marks the run `needs-human`, writes an event to `<log_dir>/events.jsonl`, runs
`notify_cmd` (an argv with `{issue}` / `{reason}` slots, never a shell string) and records an
open decision (which pings the `notify` agent like any flag). Actions are recorded as decisions
with per-episode ids BEFORE their effects are taken as done, so a watcher restarted mid-tick
never sends the same fix-forward twice. Terminal runs are not ticked again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import AgentConfig, BackendConfig
from agent_orchestrator.handoff.gitrepo import GitError
from agent_orchestrator.runtime.delivery import DeliveryResult, deliver
from agent_orchestrator.runtime.launcher import exit_status
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.screen.detect import PaneState, classify
from agent_orchestrator.screen.patterns import screen_patterns
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchers.decisions import (
    Decision,
    TickReport,
    WatcherContext,
    decision_id,
    episode_key,
    is_stalled,
    namespace,
)
from agent_orchestrator.watchers.issue_runs.decide import (
    CLOSE,
    ESCALATE,
    FIX_FORWARD,
    FREEZE,
    VOCABULARY,
    RunView,
    Verdict,
    ci_verdict,
    decide,
    fill,
    fix_prompt,
)
from agent_orchestrator.watchers.issue_runs.store import (
    CLOSED,
    NEEDS_HUMAN,
    RUNNING,
    HistoryEntry,
    Run,
    RunRecordError,
    RunStore,
)
from agent_orchestrator.watchers.ledger import DecisionLedger
from agent_orchestrator.watchers.sources import WatchRepo, refresh

KIND = "issue-runs"
NAMESPACE = namespace(KIND)
CI_TIMEOUT = 120.0
NOTIFY_TIMEOUT = 60.0

# -- reading the world --------------------------------------------------------------------------

_STATUS = {
    PaneState.BUSY: "working", PaneState.RATE_LIMITED_RETRYING: "working",
    PaneState.IDLE: "idle", PaneState.DONE_IDLE: "idle", PaneState.WAITING_UNTIL: "idle",
    PaneState.API_ERROR: "error", PaneState.EXITED_TO_SHELL: "error",
}


def agent_status(pane: PaneObservation | None, screen: list[str] | None, backend: BackendConfig,
                 exit_code: int | None = None) -> tuple[str, str]:
    """(working | idle | error | unknown, detail) of a task agent's pane. A dialog or unsubmitted
    input is `unknown` (the watchdog is dealing with it); a pane that exited 0 finished (idle)."""
    if pane is None:
        return "error", "session gone"
    if pane.dead:
        code = exit_code if exit_code is not None else pane.dead_status
        return ("idle", "exited 0") if code == 0 else ("error", f"exited with status {code}")
    if screen is None:
        return "unknown", "screen not captured"
    state = classify(screen, screen_patterns(backend), current_command=pane.current_command, process_names=backend.process_name)
    return _STATUS.get(state, "unknown"), str(state)


# -- the watcher --------------------------------------------------------------------------------


class IssueRunWatcher:
    """Ticks the in-flight runs of a project. Collaborators are injected for tests: `runtime`
    (tmux), `run` (subprocess.run for ci_cmd / notify_cmd), `send` (verified delivery), `pause`
    (a watchdog pause request)."""

    kind = KIND
    namespace = NAMESPACE
    vocabulary = VOCABULARY

    def __init__(self, ctx: WatcherContext, ledger: DecisionLedger, *, runtime: TmuxRuntime | None = None,
                 run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
                 send: Callable[..., DeliveryResult] = deliver,
                 pause: Callable[[Path, str, str], object] = request_watchdog) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.runtime = runtime or TmuxRuntime(ctx.config.defaults.tmux_socket)
        self.run = run
        self.send = send
        self.pause = pause
        self.store = RunStore(ctx.log_dir)
        self.events = EventLog(ctx.log_dir)

    def tick(self, now: float) -> TickReport:
        """One tick over every run still in flight (`now`: epoch seconds); a run that fails to
        assemble is noted and skipped, and a malformed runs file is noted and nothing is ticked."""
        report = TickReport()
        try:
            runs = {k: r for k, r in self.store.load().items() if r.status == RUNNING}
        except RunRecordError as exc:
            report.notes.append(str(exc))
            return report
        if not runs:
            return report
        panes = self.runtime.observe()
        for issue, run in runs.items():
            try:
                self._tick_run(issue, run, panes, now, report)
            except (GitError, OSError, TmuxError, ValueError) as exc:
                report.notes.append(f"issue {issue}: {type(exc).__name__}: {exc}")
        return report

    # -- assembling -------------------------------------------------------------------------
    def _observe_agent(self, agent: AgentConfig, panes: dict[str, PaneObservation]) -> tuple[str, str]:
        backend = self.ctx.config.backend_of(agent)
        session = agent.session or ""
        pane = panes.get(session)
        screen = None
        if pane is not None and not pane.dead:
            try:
                screen = self.runtime.capture(session)
            except TmuxError:
                screen = None
        spec_dir = Path(self.ctx.config.defaults.log_dir) / "launch"
        return agent_status(pane, screen, backend, exit_status(spec_dir, session) if pane is not None and pane.dead else None)

    def _pushed(self, run: Run) -> str | None:
        repo = WatchRepo(Path(run.repo))
        loop = self.ctx.config.loop
        if loop is not None and loop.repo is not None and Path(loop.repo) == Path(run.repo):
            refresh(repo, self.ctx.log_dir)
        head = repo.head()
        return head if head and head != run.base else None

    def _ci(self, issue: str, commit: str) -> tuple[str | None, str]:
        argv = fill(list(self.ctx.agent.ci_cmd), commit=commit, issue=issue)
        try:
            done = self.run(argv, cwd=str(self.ctx.agent.dir or self.ctx.config.root), capture_output=True, text=True,
                            timeout=CI_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, f"{argv[0]}: no answer within {CI_TIMEOUT:g}s"
        except OSError as exc:
            return None, f"{argv[0]}: cannot run: {exc.strerror}"
        out = (done.stdout or "").strip()
        verdict = ci_verdict(out)
        return verdict, (out.splitlines()[-1][:200] if out else f"exit {done.returncode}, no output")

    # -- one run ----------------------------------------------------------------------------
    def _tick_run(self, issue: str, run: Run, panes: dict[str, PaneObservation], now: float, report: TickReport) -> None:
        agent = self.ctx.config.agent(run.agent)
        if agent is None:
            raise ValueError(f"agent {run.agent!r} is no longer in agents.toml")
        status, status_detail = self._observe_agent(agent, panes)
        commit = self._pushed(run)
        ci, ci_line = run.ci, ""
        if commit is not None and not (run.ci_commit == commit and ci in ("green", "red")):
            ci, ci_line = self._ci(issue, commit)
        progress = run.last_progress_at or run.started_at or now
        if status == "working" or (commit is not None and commit != run.commit):
            progress = now
        fixed = list(run.fixed_commits)
        budget = int(self.ctx.agent.fix_budget)
        view = RunView(status=status, commit=commit, ci=ci if commit else None, fixes=len(fixed), budget=budget,
                       prompted=commit in fixed, stalled=is_stalled(progress, now, float(self.ctx.agent.window)),
                       elapsed=now - (run.started_at or now))
        verdict = decide(view)
        inputs = {"issue": issue, "agent": agent.name, "agent_status": status, "status_detail": status_detail,
                  "commit": commit, "ci": ci, "ci_output": ci_line, "fix_attempts": len(fixed), "fix_budget": budget,
                  "elapsed": round(view.elapsed, 1), "stalled": view.stalled}
        update: dict[str, Any] = {"agent_status": status, "commit": commit, "last_progress_at": progress}  # Run fields
        if commit is not None:
            update.update(ci=ci, ci_commit=commit)
        entity = f"run:{issue}"
        if verdict.choice == FIX_FORWARD:
            assert commit is not None
            decision = self._decision(verdict, entity, f"fix:{commit}", inputs, now)
            if not self.ledger.has(decision.id):
                prompt = fix_prompt(issue, commit, ci_line, len(fixed) + 1, budget)
                if self.send is deliver and lock_holder(self.ctx.log_dir) is not None:
                    # The watchdog's outbox types it in when the agent's turn is over.
                    request_watchdog(self.ctx.log_dir, "send", agent.name, text=prompt, kind="fix", why=f"fix-forward for issue {issue}")
                    sent = DeliveryResult(True, 0, confirmed_by="outbox")
                else:
                    sent = self.send(self.runtime, agent.session or "", prompt, self.ctx.config.backend_of(agent),
                                     attempts=self.ctx.config.watchdog.delivery_attempts)
                if not sent.ok:
                    report.notes.append(f"issue {issue}: fix-forward not delivered to {agent.name}: {sent.reason} (retrying)")
                    self._save(issue, run, update)
                    return
                if self.ledger.append(decision, closed_note=f"fix-forward prompt delivered to {agent.name}"):
                    report.new.append(decision)
            update.update(fixed_commits=(*fixed, commit), last_progress_at=now)
            self._save(issue, run, update, history=(now, verdict))
        elif verdict.choice in (ESCALATE, FREEZE):
            decision = self._decision(verdict, entity, f"end:{episode_key(run.started_at)}", inputs, now)
            if self.ledger.append(decision):
                report.new.append(decision)
                self._escalate(issue, agent.name, verdict, decision)
            update.update(status=NEEDS_HUMAN, reason=verdict.reason, ended_at=now)
            self._save(issue, run, update, history=(now, verdict))
        elif verdict.choice == CLOSE:
            decision = self._decision(verdict, entity, f"end:{episode_key(run.started_at)}", inputs, now)
            if self.ledger.append(decision, closed_note="run closed: pushed and green"):
                report.new.append(decision)
                self.events.emit(agent.name, "run-closed", verdict.reason, now, issue=issue, commit=commit, decision=decision.id)
            update.update(status=CLOSED, reason=verdict.reason, ended_at=now)
            self._save(issue, run, update, history=(now, verdict))
        else:
            self._save(issue, run, update)

    def _decision(self, verdict: Verdict, entity: str, episode: str, inputs: dict[str, Any], now: float) -> Decision:
        return Decision(id=decision_id(self.namespace, entity, episode), watcher=self.ctx.name, context=verdict.context,
                        choice=verdict.choice, entity_id=entity, episode_start=episode,
                        reasoning=f"issue {inputs['issue']}: {verdict.reason}", inputs=inputs, decided_at=now)

    def _escalate(self, issue: str, agent: str, verdict: Verdict, decision: Decision) -> None:
        now = decision.decided_at
        self.events.emit(agent, "run-escalated", verdict.reason, now, issue=issue, choice=verdict.choice, decision=decision.id)
        if verdict.choice == FREEZE:
            self.pause(self.ctx.log_dir, "pause", agent)
        if self.ctx.agent.notify_cmd:
            argv = fill(list(self.ctx.agent.notify_cmd), issue=issue, reason=verdict.reason)
            try:
                done = self.run(argv, cwd=str(self.ctx.agent.dir or self.ctx.config.root), capture_output=True, text=True,
                                timeout=NOTIFY_TIMEOUT, stdin=subprocess.DEVNULL)
                failed = f"exit {done.returncode}" if done.returncode != 0 else ""
            except (OSError, subprocess.TimeoutExpired) as exc:
                failed = str(exc)
            if failed:
                self.events.emit(agent, "notify-cmd-failed", f"{argv[0]}: {failed}", now, issue=issue)

    def _save(self, issue: str, seen: Run, update: dict[str, Any], history: tuple[float, Verdict] | None = None) -> None:
        """Apply `update` (Run field → value) and the history step to the stored run of `issue`,
        unless it ended or was replaced since `seen` was read."""
        with self.store.edit() as runs:
            run = runs.get(issue)
            if run is None or run.status != RUNNING or run.started_at != seen.started_at:
                return  # ended or replaced meanwhile (e.g. a new `agents run` of the issue)
            run = replace(run, **update)
            if history is not None:
                ts, verdict = history
                run = replace(run, history=(*run.history, HistoryEntry(ts, verdict.choice, verdict.reason)))
            runs[issue] = run


def make(ctx: WatcherContext, ledger: DecisionLedger) -> IssueRunWatcher:
    """The issue-run watcher of the project in `ctx`, recording into `ledger`."""
    return IssueRunWatcher(ctx, ledger)
