"""Issue-run watcher: it acts, within bounds, on the runs `agents run` started.

Each tick, for every run still `running`, it assembles the run's state — the task agent's status
(working / idle / error / unknown, read with the same detectors as the watchdog:
`screen.classify`), the pushed commit (origin/main of the run's clone moved past the run's base),
the CI verdict of that commit (`ci_cmd` with `{commit}` / `{issue}` filled, printing green, red
or pending), the fix-forward prompts already sent, whether the run is stalled (no progress —
the agent working, a new push, a prompt sent — for `window` seconds) — and the pure `decide`
picks one of:

- **wait** — nothing to do yet; an unknown agent status always waits (never act on a guess);
- **fix-forward** — CI red on a commit and the agent idle: send it a corrective prompt naming the
  commit, at most `fix_budget` per run and once per red commit;
- **escalate-before-push** — stalled or errored with nothing pushed;
- **freeze-and-escalate** — CI still red and the budget spent (or the agent errored, or a prompt
  brought no new push within the window): the agent is paused and a human called;
- **close-success** — pushed and green.

An escalation marks the run `needs-human`, writes an event to `<log_dir>/events.jsonl`, runs
`notify_cmd` (an argv with `{issue}` / `{reason}` slots, never a shell string) and records an
open decision (which pings the `notify` agent like any flag). Actions are recorded as decisions
with per-episode ids BEFORE their effects are taken as done, so a watcher restarted mid-tick
never sends the same fix-forward twice. Terminal runs are not ticked again.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.screen.patterns import screen_patterns
from agent_orchestrator.config.schema import AgentConfig, BackendConfig
from agent_orchestrator.runtime.delivery import DeliveryResult, deliver
from agent_orchestrator.handoff.gitrepo import GitError
from agent_orchestrator.screen.detect import PaneState, classify
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.runtime.launcher import exit_status
from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchdog.requests import request_watchdog
from agent_orchestrator.watchers.issue_runs.store import CLOSED, NEEDS_HUMAN, RUNNING, RunStore
from agent_orchestrator.watchers.framework import (
    Decision,
    DecisionLedger,
    TickReport,
    Vocabulary,
    WatcherContext,
    decision_id,
    duration,
    episode_key,
    is_stalled,
    namespace,
)
from agent_orchestrator.watchers.sources import WatchRepo, refresh

KIND = "issue-runs"
NAMESPACE = namespace(KIND)
WAIT, FIX_FORWARD, ESCALATE, FREEZE, CLOSE = "wait", "fix-forward", "escalate-before-push", "freeze-and-escalate", "close-success"
IN_FLIGHT, CI_RED, STUCK_UNPUSHED, RED_UNFIXABLE, PUSHED_GREEN = (
    "run-in-flight", "run-ci-red", "run-stuck-unpushed", "run-red-unfixable", "run-pushed-green")
VOCABULARY = Vocabulary((IN_FLIGHT, CI_RED, STUCK_UNPUSHED, RED_UNFIXABLE, PUSHED_GREEN), (WAIT, FIX_FORWARD, ESCALATE, FREEZE, CLOSE))
AGENT_STATUSES = ("working", "idle", "error", "unknown")
CI_VERDICTS = ("green", "red", "pending")
CI_TIMEOUT = 120.0
NOTIFY_TIMEOUT = 60.0

# -- the pure state machine ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """One run as assembled this tick. `ci` is the verdict for `commit` (None: unknown);
    `prompted`: a fix-forward already named `commit`; `fixes`: prompts sent in this run."""

    status: str
    commit: str | None = None
    ci: str | None = None
    fixes: int = 0
    budget: int = 2
    prompted: bool = False
    stalled: bool = False
    elapsed: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """What to do with a run: `choice` in `context`, and why."""

    choice: str
    context: str
    reason: str


def decide(v: RunView) -> Verdict:
    """The run's next step (pure; see the module docstring for the rules)."""
    if v.status not in ("working", "idle", "error"):
        return Verdict(WAIT, IN_FLIGHT, "the agent's status is unknown: wait, never act on a guess")
    if v.commit is None:
        if v.status == "error":
            return Verdict(ESCALATE, STUCK_UNPUSHED, "the agent errored with nothing pushed")
        if v.status == "idle" and v.stalled:
            return Verdict(ESCALATE, STUCK_UNPUSHED, f"the agent stalled with nothing pushed after {duration(v.elapsed)}")
        return Verdict(WAIT, IN_FLIGHT, f"nothing pushed yet; the agent is {v.status}")
    short = v.commit[:8]
    if v.ci == "green":
        return Verdict(CLOSE, PUSHED_GREEN, f"{short} is pushed and CI is green")
    if v.ci != "red":
        return Verdict(WAIT, IN_FLIGHT, f"{short} is pushed; CI is {v.ci or 'unknown'}")
    if v.status == "error":
        return Verdict(FREEZE, RED_UNFIXABLE, f"CI is red on {short} and the agent errored")
    if v.prompted:
        if v.status == "idle" and v.stalled:
            return Verdict(FREEZE, RED_UNFIXABLE, f"the fix-forward prompt for {short} brought no new push within the window")
        return Verdict(WAIT, IN_FLIGHT, f"fix-forward sent for {short}; waiting for a new push")
    if v.fixes >= v.budget:
        return Verdict(FREEZE, RED_UNFIXABLE, f"CI is still red on {short} and the fix-forward budget ({v.budget}) is spent")
    if v.status == "working":
        return Verdict(WAIT, IN_FLIGHT, f"CI is red on {short}; the agent is still working")
    return Verdict(FIX_FORWARD, CI_RED, f"CI is red on {short}: fix-forward {v.fixes + 1} of {v.budget}")


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


def ci_verdict(stdout: str) -> str | None:
    """green / red / pending from the first word of the last non-empty line (any case), else None."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        return None
    word = lines[-1].split()[0].strip(".:;,!").lower()
    return word if word in CI_VERDICTS else None


_SLOTS = re.compile(r"\{(commit|issue|reason)\}")


def fill(argv: list[str], **slots: str) -> list[str]:
    """`argv` with `{commit}` `{issue}` `{reason}` filled in one pass (values are never re-read)."""
    return [_SLOTS.sub(lambda m: slots.get(m.group(1), m.group(0)), part) for part in argv]


def fix_prompt(issue: str, commit: str, ci_line: str, attempt: int, budget: int) -> str:
    """The corrective prompt of a fix-forward."""
    detail = f" ({ci_line})" if ci_line else ""
    return (f"CI is red on commit {commit[:12]}{detail}. Fix forward: find the failure, fix it, commit and push a new "
            f"commit — do not revert or force-push. (issue {issue}, fix-forward {attempt} of {budget})")


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
        """One tick over every run still in flight; a run that fails to assemble is noted and skipped."""
        report = TickReport()
        runs = {k: r for k, r in self.store.load().items() if r.get("status") == RUNNING}
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

    def _pushed(self, run: dict[str, Any]) -> str | None:
        repo = WatchRepo(Path(run["repo"]))
        loop = self.ctx.config.loop
        if loop is not None and loop.repo is not None and Path(loop.repo) == Path(run["repo"]):
            refresh(repo, self.ctx.log_dir)
        head = repo.head()
        return head if head and head != run.get("base") else None

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
    def _tick_run(self, issue: str, run: dict[str, Any], panes: dict[str, PaneObservation], now: float, report: TickReport) -> None:
        agent = self.ctx.config.agent(str(run.get("agent")))
        if agent is None:
            raise ValueError(f"agent {run.get('agent')!r} is no longer in agents.toml")
        status, status_detail = self._observe_agent(agent, panes)
        commit = self._pushed(run)
        ci, ci_line = run.get("ci"), ""
        if commit is not None and not (run.get("ci_commit") == commit and ci in ("green", "red")):
            ci, ci_line = self._ci(issue, commit)
        progress = float(run.get("last_progress_at") or run.get("started_at") or now)
        if status == "working" or (commit is not None and commit != run.get("commit")):
            progress = now
        fixed = list(run.get("fixed_commits") or [])
        budget = int(self.ctx.agent.fix_budget)
        view = RunView(status=status, commit=commit, ci=ci if commit else None, fixes=len(fixed), budget=budget,
                       prompted=commit in fixed, stalled=is_stalled(progress, now, float(self.ctx.agent.window)),
                       elapsed=now - float(run.get("started_at") or now))
        verdict = decide(view)
        inputs = {"issue": issue, "agent": agent.name, "agent_status": status, "status_detail": status_detail,
                  "commit": commit, "ci": ci, "ci_output": ci_line, "fix_attempts": len(fixed), "fix_budget": budget,
                  "elapsed": round(view.elapsed, 1), "stalled": view.stalled}
        update: dict[str, Any] = {"agent_status": status, "commit": commit, "last_progress_at": progress}
        if commit is not None:
            update.update(ci=ci, ci_commit=commit)
        entity = f"run:{issue}"
        if verdict.choice == FIX_FORWARD:
            assert commit is not None
            decision = self._decision(verdict, entity, f"fix:{commit}", inputs, now)
            if not self.ledger.has(decision.id):
                sent = self.send(self.runtime, agent.session or "", fix_prompt(issue, commit, ci_line, len(fixed) + 1, budget),
                                 self.ctx.config.backend_of(agent), attempts=self.ctx.config.watchdog.delivery_attempts)
                if not sent.ok:
                    report.notes.append(f"issue {issue}: fix-forward not delivered to {agent.name}: {sent.reason} (retrying)")
                    self._save(issue, run, update)
                    return
                if self.ledger.append(decision, closed_note=f"fix-forward prompt delivered to {agent.name}"):
                    report.new.append(decision)
            update.update(fixed_commits=[*fixed, commit], last_progress_at=now)
            self._save(issue, run, update, history=(now, verdict))
        elif verdict.choice in (ESCALATE, FREEZE):
            decision = self._decision(verdict, entity, f"end:{episode_key(run.get('started_at'))}", inputs, now)
            if self.ledger.append(decision):
                report.new.append(decision)
                self._escalate(issue, agent.name, verdict, decision)
            update.update(status=NEEDS_HUMAN, reason=verdict.reason, ended_at=now)
            self._save(issue, run, update, history=(now, verdict))
        elif verdict.choice == CLOSE:
            decision = self._decision(verdict, entity, f"end:{episode_key(run.get('started_at'))}", inputs, now)
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

    def _save(self, issue: str, seen: dict[str, Any], update: dict[str, Any], history: tuple[float, Verdict] | None = None) -> None:
        with self.store.edit() as runs:
            run = runs.get(issue)
            if run is None or run.get("status") != RUNNING or run.get("started_at") != seen.get("started_at"):
                return  # ended or replaced meanwhile (e.g. a new `agents run` of the issue)
            run.update(update)
            if history is not None:
                ts, verdict = history
                run.setdefault("history", []).append({"ts": ts, "choice": verdict.choice, "reason": verdict.reason})


def make(ctx: WatcherContext, ledger: DecisionLedger) -> IssueRunWatcher:
    """The issue-run watcher of the project in `ctx`."""
    return IssueRunWatcher(ctx, ledger)
