"""Issue runs on disk: `<log_dir>/state/runs.json`, and starting one (`agents run`).

A run is a task agent working on one issue. `agents run ISSUE --agent NAME --prompt-file F`
starts the agent with the prompt and records the run; the issue-run watcher (`issue_runs`) ticks
every run whose status is `running` until it ends `closed` (pushed and green) or `needs-human`.
Both processes edit the file under an fcntl lock (`.runs.lock`) with an atomic replace.

Record fields: `issue`, `agent`, `prompt_file`, `started_at`, `repo` (the clone whose origin/main
is read) and `base` (its head when the run started), `status`, `agent_status`,
`last_progress_at`, `commit` (the pushed commit, once there is one), `ci`, `ci_commit`,
`fixed_commits` (red commits a fix-forward prompt named), `reason`, `ended_at`, `history`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import AgentConfig, Config
from agent_orchestrator.handoff.gitrepo import GitError
from agent_orchestrator.runtime.project import Outcome, Project
from agent_orchestrator.watchers.sources import WatchRepo, refresh

RUNNING, CLOSED, NEEDS_HUMAN = "running", "closed", "needs-human"
TERMINAL = (CLOSED, NEEDS_HUMAN)


class RunError(ValueError):
    """A run that cannot be started (unknown or wrong agent, no repo, already in flight)."""


class RunStore:
    """The runs file of one project."""

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / "state" / "runs.json"
        self._lock = Path(log_dir) / "state" / ".runs.lock"

    def load(self) -> dict[str, dict[str, Any]]:
        """Every run by issue ({} when there is no file yet); never writes."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        runs = data.get("runs") if isinstance(data, dict) else None
        return {str(k): v for k, v in runs.items() if isinstance(v, dict)} if isinstance(runs, dict) else {}

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Read-modify-write under the lock: change the yielded dict in place; it is saved atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            runs = self.load()
            yield runs
            tmp_fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".runs-")
            try:
                with os.fdopen(tmp_fd, "w", encoding="utf-8") as fh:
                    json.dump({"runs": runs}, fh, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        finally:
            os.close(fd)


def run_repo(config: Config, agent: AgentConfig) -> tuple[Path, bool] | None:
    """The clone whose origin/main shows the run's pushed commit, and whether it is the shared
    handoff repo: the agent's own dir when it is a git clone (its pushes update its tracking ref,
    no fetch needed), else `[loop].repo`; None when there is neither."""
    if agent.dir is not None and (Path(agent.dir) / ".git").exists():
        return Path(agent.dir), False
    if config.loop is not None and config.loop.repo is not None:
        return Path(config.loop.repo), True
    return None


@dataclass(frozen=True)
class Started:
    """What `start_run` did: the agent's start outcome and the run record."""

    outcome: Outcome
    run: dict[str, Any]
    watchers: list[str]


def start_run(project: Project, issue: str, agent_name: str, prompt_file: Path, now: float) -> Started:
    """Start task agent `agent_name` on `issue` with the prompt in `prompt_file` and record the run.

    Raises RunError when the agent is unknown or not a task agent, when there is no repo to read
    the pushed commit from, when `issue` is already in flight, or when the agent is busy with
    another run's issue. A failed start is recorded as nothing (the outcome says why).
    """
    config = project.config
    agent = config.agent(agent_name)
    if agent is None:
        raise RunError(f"{agent_name}: no such agent (agents: {', '.join(a.name for a in config.agents) or 'none'})")
    if agent.kind != "task" or config.is_watcher(agent):
        raise RunError(f'{agent_name} is a {agent.kind} agent; `agents run` starts a kind = "task" agent')
    issue = issue.strip()
    if not issue:
        raise RunError("the issue id is empty")
    try:
        prompt = prompt_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunError(f"{prompt_file}: cannot read: {exc.strerror}") from None
    if not prompt.strip():
        raise RunError(f"{prompt_file}: the prompt is empty")
    where = run_repo(config, agent)
    if where is None:
        raise RunError(f"{agent_name}: its dir is not a git clone and there is no [loop].repo: nowhere to see the pushed commit")
    repo_path, shared = where
    store = RunStore(project.log_dir)
    runs = store.load()
    if runs.get(issue, {}).get("status") == RUNNING:
        raise RunError(f"issue {issue} is already in flight (agent {runs[issue].get('agent')})")
    busy = [k for k, r in runs.items() if r.get("status") == RUNNING and r.get("agent") == agent_name]
    if busy:
        raise RunError(f"{agent_name} is busy with issue {busy[0]}; resolve that run first")
    repo = WatchRepo(repo_path)
    try:
        if shared:
            refresh(repo, project.log_dir)
        else:
            repo.fetch()  # the agent is not running yet: nothing races this fetch
        base = repo.head()
    except GitError as exc:
        raise RunError(f"{repo_path}: {exc}") from None
    pane = project.runtime.observe().get(agent.session or "")
    outcome = project.start(agent, pane, prompt=prompt)
    watchers = [a.name for a in config.watchers() if a.watcher == "issue-runs" and a.enabled]
    run: dict[str, Any] = {
        "issue": issue, "agent": agent_name, "prompt_file": str(prompt_file), "started_at": now,
        "repo": str(repo_path), "base": base, "status": RUNNING, "agent_status": "unknown",
        "last_progress_at": now, "commit": None, "ci": None, "ci_commit": None, "fixed_commits": [],
        "reason": "", "ended_at": None, "history": [{"ts": now, "choice": "start", "reason": f"started {agent_name}"}],
    }
    if outcome.failed:
        return Started(outcome, run, watchers)
    with store.edit() as all_runs:
        previous = all_runs.get(issue)
        if previous is not None:
            run["previous"] = [*previous.pop("previous", []), previous]
        all_runs[issue] = run
    return Started(outcome, run, watchers)
